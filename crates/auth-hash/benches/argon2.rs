//! Argon2id / bcrypt / PBKDF2 benchmark (filled in step 2).

fn main() {}
