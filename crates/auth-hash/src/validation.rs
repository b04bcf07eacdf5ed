//! Password validation: the [`PasswordValidator`] trait, the reference's four built-in
//! validators, and [`PasswordPolicy`], which runs them all and reports every failure.
//!
//! See `docs/password-validation.md` for the rules and their sources.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::{Arc, LazyLock};

/// What a validator may know about the user besides the password.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ValidationContext<'a> {
    /// The user's email address, if known (new accounts and password changes).
    pub email: Option<&'a str>,
    /// Other user attributes to keep the password away from, as `(name, value)` pairs (for
    /// example `("display_name", "Ada Lovelace")`). The name appears in the message.
    pub attributes: &'a [(&'a str, &'a str)],
}

impl<'a> ValidationContext<'a> {
    /// A context with an email address.
    #[must_use]
    pub fn with_email(email: &'a str) -> Self {
        Self {
            email: Some(email),
            attributes: &[],
        }
    }
}

/// One failed rule: a machine-readable code and a human-readable message. The message never
/// contains the password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationFailure {
    /// Stable machine-readable code, e.g. `"password_too_short"`.
    pub code: &'static str,
    /// Human-readable explanation, in English.
    pub message: String,
}

impl ValidationFailure {
    /// Builds a failure.
    #[must_use]
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

impl fmt::Display for ValidationFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// A password rule.
pub trait PasswordValidator: Send + Sync + 'static {
    /// Checks `password`.
    ///
    /// # Errors
    /// A [`ValidationFailure`] saying which rule failed and why.
    fn validate(
        &self,
        password: &str,
        ctx: &ValidationContext<'_>,
    ) -> Result<(), ValidationFailure>;

    /// A sentence describing the rule, for forms and API docs.
    fn help_text(&self) -> String;
}

/// Every failure of a password against a [`PasswordPolicy`] (never empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordValidationError {
    /// The failures, in validator order.
    pub failures: Vec<ValidationFailure>,
}

impl PasswordValidationError {
    /// The failure codes, in order.
    pub fn codes(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.failures.iter().map(|f| f.code)
    }

    /// The messages, in order.
    pub fn messages(&self) -> impl Iterator<Item = &str> + '_ {
        self.failures.iter().map(|f| f.message.as_str())
    }
}

impl fmt::Display for PasswordValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, failure) in self.failures.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            f.write_str(&failure.message)?;
        }
        Ok(())
    }
}

impl std::error::Error for PasswordValidationError {}

// ---------------------------------------------------------------------------------------------

/// Refuses passwords shorter than a minimum, counted in characters (Unicode scalar values, as
/// NIST SP 800-63B asks), not bytes. Default minimum: 8, like the reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MinimumLengthValidator {
    min_length: usize,
}

impl MinimumLengthValidator {
    /// The reference's default minimum.
    pub const DEFAULT_MIN_LENGTH: usize = 8;

    /// A validator requiring at least `min_length` characters.
    #[must_use]
    pub fn new(min_length: usize) -> Self {
        Self { min_length }
    }

    /// The minimum, in characters.
    #[must_use]
    pub fn min_length(&self) -> usize {
        self.min_length
    }
}

impl Default for MinimumLengthValidator {
    fn default() -> Self {
        Self::new(Self::DEFAULT_MIN_LENGTH)
    }
}

impl PasswordValidator for MinimumLengthValidator {
    fn validate(&self, password: &str, _: &ValidationContext<'_>) -> Result<(), ValidationFailure> {
        // `chars().count()` stops mattering once it passes the minimum.
        if password.chars().take(self.min_length).count() < self.min_length {
            return Err(ValidationFailure::new(
                "password_too_short",
                format!(
                    "This password is too short. It must contain at least {} characters.",
                    self.min_length
                ),
            ));
        }
        Ok(())
    }

    fn help_text(&self) -> String {
        format!(
            "Your password must contain at least {} characters.",
            self.min_length
        )
    }
}

/// The bundled lists: Django's `common-passwords.txt.gz` (BSD-3-Clause) and zxcvbn's
/// `passwords` frequency list (MIT); provenance and licenses in `data/LICENSE-*`.
const BUNDLED_COMMON_PASSWORDS: [&str; 2] = [
    include_str!("../data/common-passwords.txt"),
    include_str!("../data/common-passwords-zxcvbn.txt"),
];

static BUNDLED_SET: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    BUNDLED_COMMON_PASSWORDS
        .iter()
        .flat_map(|list| list.lines())
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect()
});

/// Refuses passwords found in a list of common passwords: the whole password, compared
/// case-insensitively after trimming surrounding whitespace (like Django). A password that
/// merely *contains* a listed word is allowed.
///
/// The bundled list is the union of Django's 20,000 most common passwords (19,640 distinct
/// once lowercased, the list the Python reference ships) and zxcvbn's 30,000 most common
/// passwords: 40,101 distinct entries, loaded once, lazily, on first use.
#[derive(Clone, Default)]
pub struct CommonPasswordValidator {
    custom: Option<Arc<HashSet<String>>>,
}

impl fmt::Debug for CommonPasswordValidator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CommonPasswordValidator")
            .field("entries", &self.len())
            .finish()
    }
}

impl CommonPasswordValidator {
    /// Uses the bundled list.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Uses `passwords` instead of the bundled list (entries are trimmed and lowercased).
    #[must_use]
    pub fn with_list<I, S>(passwords: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let set = passwords
            .into_iter()
            .map(|p| p.as_ref().trim().to_lowercase())
            .filter(|p| !p.is_empty())
            .collect();
        Self {
            custom: Some(Arc::new(set)),
        }
    }

    /// Number of distinct entries in the list in use.
    #[must_use]
    pub fn len(&self) -> usize {
        self.custom
            .as_ref()
            .map_or_else(|| BUNDLED_SET.len(), |s| s.len())
    }

    /// `true` if the list is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `true` if `password` is on the list (whole password, case-insensitive, trimmed).
    #[must_use]
    pub fn is_common(&self, password: &str) -> bool {
        let key = password.trim().to_lowercase();
        match &self.custom {
            Some(set) => set.contains(&key),
            None => BUNDLED_SET.contains(key.as_str()),
        }
    }
}

impl PasswordValidator for CommonPasswordValidator {
    fn validate(&self, password: &str, _: &ValidationContext<'_>) -> Result<(), ValidationFailure> {
        if self.is_common(password) {
            return Err(ValidationFailure::new(
                "password_too_common",
                "This password is too common.",
            ));
        }
        Ok(())
    }

    fn help_text(&self) -> String {
        "Your password can't be a commonly used password.".into()
    }
}

/// Refuses passwords made only of digits (any Unicode numeric character).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NumericPasswordValidator;

impl PasswordValidator for NumericPasswordValidator {
    fn validate(&self, password: &str, _: &ValidationContext<'_>) -> Result<(), ValidationFailure> {
        if !password.is_empty() && password.chars().all(char::is_numeric) {
            return Err(ValidationFailure::new(
                "password_entirely_numeric",
                "This password is entirely numeric.",
            ));
        }
        Ok(())
    }

    fn help_text(&self) -> String {
        "Your password can't be entirely numeric.".into()
    }
}

/// Refuses passwords too similar to the user's email, its local part (before `@`), its parts
/// split on non-alphanumeric characters, or any [`ValidationContext::attributes`] value.
///
/// Similarity is difflib's `SequenceMatcher.quick_ratio()` (what Django and the reference use):
/// `2 * M / T`, with `M` the number of characters the two lowercased strings have in common
/// (as multisets) and `T` their total length. It runs in linear time, and, like Django after
/// CVE-2021-45115, pairs whose lengths make the threshold unreachable are skipped before any
/// counting, so a 4096-character password costs microseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UserAttributeSimilarityValidator {
    max_similarity: f64,
}

impl UserAttributeSimilarityValidator {
    /// Django's and the reference's threshold.
    pub const DEFAULT_MAX_SIMILARITY: f64 = 0.7;

    /// A validator with the given threshold, clamped to `0.1..=1.0` (Django refuses < 0.1).
    #[must_use]
    pub fn new(max_similarity: f64) -> Self {
        Self {
            max_similarity: if max_similarity.is_nan() {
                Self::DEFAULT_MAX_SIMILARITY
            } else {
                max_similarity.clamp(0.1, 1.0)
            },
        }
    }

    /// The threshold.
    #[must_use]
    pub fn max_similarity(&self) -> f64 {
        self.max_similarity
    }

    fn too_similar(&self, password_lower: &[char], value: &str) -> bool {
        let value_lower: Vec<char> = value.to_lowercase().chars().collect();
        if value_lower.is_empty() {
            return false;
        }
        let (p, v) = (password_lower.len(), value_lower.len());
        // quick_ratio <= 2 * min(p, v) / (p + v): skip when even that is below the threshold.
        #[allow(clippy::cast_precision_loss)] // lengths are at most a few thousand
        let bound = 2.0 * p.min(v) as f64 / (p + v) as f64;
        if bound < self.max_similarity {
            return false;
        }
        quick_ratio(password_lower, &value_lower).0 >= self.max_similarity
    }
}

impl Default for UserAttributeSimilarityValidator {
    fn default() -> Self {
        Self::new(Self::DEFAULT_MAX_SIMILARITY)
    }
}

/// difflib's `quick_ratio`: `2 * M / T` with `M` the multiset intersection size. Also returns
/// the number of loop steps taken, so tests can check the cost is linear.
pub(crate) fn quick_ratio(a: &[char], b: &[char]) -> (f64, usize) {
    let total = a.len() + b.len();
    if total == 0 {
        return (1.0, 0);
    }
    let mut counts: HashMap<char, usize> = HashMap::with_capacity(b.len().min(256));
    let mut steps = 0;
    for &c in b {
        *counts.entry(c).or_default() += 1;
        steps += 1;
    }
    let mut matches = 0usize;
    for c in a {
        steps += 1;
        if let Some(n) = counts.get_mut(c)
            && *n > 0
        {
            *n -= 1;
            matches += 1;
        }
    }
    #[allow(clippy::cast_precision_loss)]
    let ratio = 2.0 * matches as f64 / total as f64;
    (ratio, steps)
}

impl PasswordValidator for UserAttributeSimilarityValidator {
    fn validate(
        &self,
        password: &str,
        ctx: &ValidationContext<'_>,
    ) -> Result<(), ValidationFailure> {
        let email = ctx.email.map(|e| ("email", e));
        if email.is_none() && ctx.attributes.is_empty() {
            return Ok(());
        }
        let password_lower: Vec<char> = password.to_lowercase().chars().collect();
        for (name, value) in email.into_iter().chain(ctx.attributes.iter().copied()) {
            let mut parts: Vec<&str> = vec![value];
            if let Some((local, _)) = value.split_once('@') {
                parts.push(local);
            }
            parts.extend(value.split(|c: char| !c.is_alphanumeric() && c != '_'));
            for part in parts {
                if self.too_similar(&password_lower, part) {
                    return Err(ValidationFailure::new(
                        "password_too_similar",
                        format!("The password is too similar to the {name}."),
                    ));
                }
            }
        }
        Ok(())
    }

    fn help_text(&self) -> String {
        "Your password can't be too similar to your other personal information.".into()
    }
}

// ---------------------------------------------------------------------------------------------

/// An ordered set of validators run on new passwords. Every failure is collected.
///
/// Default: minimum length 8, common passwords, entirely numeric, similarity to the email —
/// the reference's four validators — and a maximum length of 4096 characters checked first
/// (a longer password gets only that failure; no other validator runs on it).
#[derive(Clone)]
pub struct PasswordPolicy {
    validators: Vec<Arc<dyn PasswordValidator>>,
    max_length: Option<usize>,
}

impl fmt::Debug for PasswordPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordPolicy")
            .field("validators", &self.validators.len())
            .field("max_length", &self.max_length)
            .finish()
    }
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self::builder().build()
    }
}

impl PasswordPolicy {
    /// Default maximum length, in characters (the reference's `max_password_length`).
    pub const DEFAULT_MAX_LENGTH: usize = 4096;

    /// A builder starting from the default validators.
    pub fn builder() -> PasswordPolicyBuilder {
        PasswordPolicyBuilder {
            validators: vec![
                Arc::new(MinimumLengthValidator::default()),
                Arc::new(CommonPasswordValidator::default()),
                Arc::new(NumericPasswordValidator),
                Arc::new(UserAttributeSimilarityValidator::default()),
            ],
            max_length: Some(Self::DEFAULT_MAX_LENGTH),
            min_length_slot: Some(0),
        }
    }

    /// Checks `password` against every validator.
    ///
    /// # Errors
    /// A [`PasswordValidationError`] listing every failed rule.
    pub fn validate(
        &self,
        password: &str,
        ctx: &ValidationContext<'_>,
    ) -> Result<(), PasswordValidationError> {
        if let Some(max) = self.max_length
            && password.len() > max
            && password.chars().nth(max).is_some()
        {
            return Err(PasswordValidationError {
                failures: vec![ValidationFailure::new(
                    "password_too_long",
                    format!("This password is too long. It must contain at most {max} characters."),
                )],
            });
        }
        let failures: Vec<_> = self
            .validators
            .iter()
            .filter_map(|v| v.validate(password, ctx).err())
            .collect();
        if failures.is_empty() {
            Ok(())
        } else {
            Err(PasswordValidationError { failures })
        }
    }

    /// The help text of every validator, in order.
    #[must_use]
    pub fn help_texts(&self) -> Vec<String> {
        let mut texts: Vec<String> = self.validators.iter().map(|v| v.help_text()).collect();
        if let Some(max) = self.max_length {
            texts.push(format!(
                "Your password must contain at most {max} characters."
            ));
        }
        texts
    }

    /// The validators, in order.
    #[must_use]
    pub fn validators(&self) -> &[Arc<dyn PasswordValidator>] {
        &self.validators
    }
}

/// Builds a [`PasswordPolicy`].
#[must_use]
pub struct PasswordPolicyBuilder {
    validators: Vec<Arc<dyn PasswordValidator>>,
    max_length: Option<usize>,
    /// Index of the validator [`PasswordPolicyBuilder::min_length`] replaces.
    min_length_slot: Option<usize>,
}

impl fmt::Debug for PasswordPolicyBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordPolicyBuilder")
            .field("validators", &self.validators.len())
            .field("max_length", &self.max_length)
            .finish()
    }
}

impl PasswordPolicyBuilder {
    /// Removes every validator (the maximum length stays).
    pub fn clear(mut self) -> Self {
        self.validators.clear();
        self.min_length_slot = None;
        self
    }

    /// Appends a validator.
    pub fn validator(mut self, validator: impl PasswordValidator) -> Self {
        self.validators.push(Arc::new(validator));
        self
    }

    /// Appends an already shared validator.
    pub fn shared_validator(mut self, validator: Arc<dyn PasswordValidator>) -> Self {
        self.validators.push(validator);
        self
    }

    /// Replaces the default minimum-length rule with one of `min_length` characters (or, after
    /// [`clear`](Self::clear), appends one).
    pub fn min_length(mut self, min_length: usize) -> Self {
        let new: Arc<dyn PasswordValidator> = Arc::new(MinimumLengthValidator::new(min_length));
        match self.min_length_slot {
            Some(i) => self.validators[i] = new,
            None => {
                self.min_length_slot = Some(self.validators.len());
                self.validators.push(new);
            }
        }
        self
    }

    /// Sets the maximum length in characters (`None`: no maximum; not recommended, since the
    /// validators then run on inputs of any size).
    pub fn max_length(mut self, max_length: Option<usize>) -> Self {
        self.max_length = max_length;
        self
    }

    /// Builds the policy.
    pub fn build(self) -> PasswordPolicy {
        PasswordPolicy {
            validators: self.validators,
            max_length: self.max_length,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quick_ratio_matches_difflib() {
        // difflib.SequenceMatcher(None, "abcd", "bcde").quick_ratio() == 0.75
        let a: Vec<char> = "abcd".chars().collect();
        let b: Vec<char> = "bcde".chars().collect();
        assert!((quick_ratio(&a, &b).0 - 0.75).abs() < 1e-12);
    }

    #[test]
    fn quick_ratio_cost_is_linear_on_maximum_length_input() {
        let a: Vec<char> = "x".repeat(4096).chars().collect();
        let b: Vec<char> = "y".repeat(4000).chars().collect();
        let (_, steps) = quick_ratio(&a, &b);
        assert_eq!(steps, 4096 + 4000);
    }
}
