//! The Lua scripts. Each runs atomically in Redis (no other command runs while it does), so
//! each one is a transaction: it checks everything first and writes only when it will
//! succeed. See the crate documentation for the key layout.
//!
//! Conventions:
//! - `ARGV[1]` is the key prefix; every key is built from it.
//! - Times are whole microseconds since the Unix epoch, from the caller's clock, passed as
//!   decimal text and stored as given. Lua 5.1 numbers are doubles: every time and sum used
//!   here stays below 2^53, so `tonumber` comparisons are exact. Numbers written back are
//!   formatted with `%.0f`, never `tostring` (which would use an exponent).
//! - Key lifetimes are relative (`PEXPIRE`): the time left until the row can never matter
//!   again, as the caller's clock measures it, plus a second of slack. Redis's own clock is
//!   never read.
//! - Missing hash fields are `false` in Lua and `nil` in the reply.

use std::sync::LazyLock;

use redis::Script;

/// Defines a script: the shared prelude followed by `$body`.
macro_rules! script {
    ($name:ident, $doc:literal, $body:literal) => {
        #[doc = $doc]
        pub(crate) static $name: LazyLock<Script> =
            LazyLock::new(|| Script::new(concat!(prelude!(), $body)));
    };
}

/// Helpers every script starts with.
macro_rules! prelude {
    () => {
        r"
local P = ARGV[1]
local SLACK_MS = 1000
local MIN_TTL_MS = 1000
-- An access row outlives its expiry by an hour (capped at its session's absolute end), so a
-- late request is told 'expired' rather than 'invalid'.
local ACCESS_RETENTION_US = 3600000000
local function int(x) return string.format('%.0f', x) end
-- Milliseconds from now_us until until_us, plus slack, at least MIN_TTL_MS.
local function ttl(until_us, now_us)
  local ms = math.ceil((tonumber(until_us) - tonumber(now_us)) / 1000) + SLACK_MS
  if ms < MIN_TTL_MS then ms = MIN_TTL_MS end
  return int(ms)
end
-- The earlier of two times given as text (returned as given).
local function earliest(a, b)
  if tonumber(a) <= tonumber(b) then return a end
  return b
end
-- Lengthens a key's lifetime to at least ms (a key without one gets it).
local function extend(key, ms)
  if redis.call('PTTL', key) < tonumber(ms) then redis.call('PEXPIRE', key, ms) end
end
-- Inserts the token rows ARGV[first..] (digest, kind code, expiry; n of them) into session
-- sid whose absolute end is abs, at now. Returns the first refresh digest, or false.
local function insert_session_tokens(sid, abs, now, first, n)
  local set = P .. 'st:' .. sid
  local refresh = false
  for i = 0, n - 1 do
    local d = ARGV[first + 3 * i]
    local kind = ARGV[first + 3 * i + 1]
    local exp = earliest(ARGV[first + 3 * i + 2], abs)
    local key = P .. 't:' .. d
    redis.call('HSET', key, 'kind', kind, 'exp', exp, 'sid', sid)
    if kind == '1' then
      redis.call('PEXPIRE', key, ttl(earliest(int(tonumber(exp) + ACCESS_RETENTION_US), abs), now))
      redis.call('ZADD', P .. 'd:a', exp, d)
    else
      redis.call('PEXPIRE', key, ttl(abs, now))
    end
    if kind == '2' and not refresh then refresh = d end
    redis.call('SADD', set, d)
  end
  if n > 0 then extend(set, ttl(abs, now)) end
  return refresh
end
-- True if any of the n digests at ARGV[first..] (every third) is taken or repeated.
local function any_taken(first, n)
  local seen = {}
  for i = 0, n - 1 do
    local d = ARGV[first + 3 * i]
    if seen[d] or redis.call('EXISTS', P .. 't:' .. d) == 1 then return true end
    seen[d] = true
  end
  return false
end
-- Revokes session sid at now (its dead-index score becomes min(abs, now)).
local function revoke(sid, now)
  redis.call('HSET', P .. 's:' .. sid, 'revoked', now)
  redis.call('ZADD', P .. 'd:s', 'LT', now, sid)
end
-- Whether a session hash (fields revoked, exp, abs) is active at now.
local function active(revoked, exp, abs, now)
  local t = tonumber(now)
  return (not revoked) and tonumber(exp) > t and tonumber(abs) > t
end
"
    };
}

script!(
    CREATE_SESSION,
    "`create_session`. ARGV: prefix, sid, user, created, exp, abs, ip, user agent, \
     has_claims (0/1), claims, max_active (empty: none), n, then n (digest, kind, exp). \
     Returns `{'collision'}` or `{'ok', evicted}`.",
    r"
local sid, user, now, exp, abs = ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local skey = P .. 's:' .. sid
local n = tonumber(ARGV[12])
if redis.call('EXISTS', skey) == 1 or any_taken(13, n) then return {'collision'} end
local ukey = P .. 'u:' .. user
local evicted = 0
if ARGV[11] ~= '' then
  local max = tonumber(ARGV[11])
  if max < 1 then max = 1 end
  local live = {}
  for _, other in ipairs(redis.call('ZRANGE', ukey, 0, -1)) do
    local h = redis.call('HMGET', P .. 's:' .. other, 'revoked', 'exp', 'abs', 'created', 'seq')
    if not h[2] then
      redis.call('ZREM', ukey, other) -- its keys expired
    elseif active(h[1], h[2], h[3], now) then
      table.insert(live, {tonumber(h[4]), tonumber(h[5]), other})
    end
  end
  table.sort(live, function(a, b)
    if a[1] ~= b[1] then return a[1] < b[1] end
    return a[2] < b[2]
  end)
  for i = 1, #live + 1 - max do
    revoke(live[i][3], now)
    evicted = evicted + 1
  end
end
local seq = redis.call('INCR', P .. 'seq')
local fields = {'user', user, 'created', now, 'exp', earliest(exp, abs), 'abs', abs, 'seq', int(seq)}
if ARGV[7] ~= '' then table.insert(fields, 'ip'); table.insert(fields, ARGV[7]) end
if ARGV[8] ~= '' then table.insert(fields, 'ua'); table.insert(fields, ARGV[8]) end
if ARGV[9] == '1' then table.insert(fields, 'claims'); table.insert(fields, ARGV[10]) end
local current = insert_session_tokens(sid, abs, now, 13, n)
if current then table.insert(fields, 'cur'); table.insert(fields, current) end
redis.call('HSET', skey, unpack(fields))
local life = ttl(abs, now)
redis.call('PEXPIRE', skey, life)
redis.call('ZADD', ukey, now, sid)
extend(ukey, life)
redis.call('ZADD', P .. 'd:s', abs, sid)
return {'ok', evicted}
"
);

script!(
    FIND_TOKEN,
    "`find_access_token`: one round trip, no write. ARGV: prefix, digest. Returns nil, or \
     `{kind, exp, sid, user, revoked, session exp, abs, claims}`.",
    r"
local t = redis.call('HMGET', P .. 't:' .. ARGV[2], 'kind', 'exp', 'sid')
if not t[3] then return false end
local s = redis.call('HMGET', P .. 's:' .. t[3], 'user', 'revoked', 'exp', 'abs', 'claims')
if not s[1] then return false end
return {t[1], t[2], t[3], s[1], s[2], s[3], s[4], s[5]}
"
);

script!(
    ROTATE,
    "`rotate_refresh_token`. ARGV: prefix, digest, now, idle timeout in µs (empty: none), \
     refresh_expires_at, grace window in µs (empty: none), sealed successor, n, then n \
     (digest, kind, exp). Returns `{'not_found'}`, `{'revoked'}`, `{'expired'}`, \
     `{'collision'}`, `{'reused', sid, user}`, `{'replayed', sid, user, sealed, exp}` or \
     `{'rotated', sid, user, exp}`.",
    r"
local d, now = ARGV[2], ARGV[3]
local t_now = tonumber(now)
local tkey = P .. 't:' .. d
local tok = redis.call('HMGET', tkey, 'kind', 'exp', 'sid', 'spent', 'succ', 'gw')
-- NotFound: no such digest, a single-use token, or a digest of another kind.
if tok[1] ~= '2' or not tok[3] then return {'not_found'} end
local sid = tok[3]
local skey = P .. 's:' .. sid
local s = redis.call('HMGET', skey, 'user', 'revoked', 'created', 'refreshed', 'exp', 'abs', 'cur')
if not s[1] then return {'not_found'} end
local user = s[1]
-- SessionRevoked.
if s[2] then return {'revoked'} end
-- A spent token: Replayed (the immediate predecessor of the current token, within the
-- window given at its rotation, its sealed pair still kept) or Reused (revoking the session).
if tok[4] then
  if tok[5] and tok[6] and tok[5] == s[7] and t_now < tonumber(tok[4]) + tonumber(tok[6]) then
    local sealed = redis.call('GET', P .. 'g:' .. d)
    if sealed then
      local succ_exp = redis.call('HGET', P .. 't:' .. tok[5], 'exp') or s[5]
      return {'replayed', sid, user, sealed, succ_exp}
    end
  end
  revoke(sid, now)
  return {'reused', sid, user}
end
-- (UserInactive: this store holds no users.) Expired: the token, the session, its absolute
-- end, or idle for too long.
local last = s[4] or s[3]
if tonumber(tok[2]) <= t_now or tonumber(s[5]) <= t_now or tonumber(s[6]) <= t_now
   or (ARGV[4] ~= '' and t_now >= tonumber(last) + tonumber(ARGV[4])) then
  return {'expired'}
end
local n = tonumber(ARGV[8])
if any_taken(9, n) then return {'collision'} end
-- Rotated: spend the token, insert the new rows, move the session.
local abs = s[6]
local succ = insert_session_tokens(sid, abs, now, 9, n)
local spent = {'spent', now}
if succ then table.insert(spent, 'succ'); table.insert(spent, succ) end
if ARGV[6] ~= '' then
  table.insert(spent, 'gw'); table.insert(spent, ARGV[6])
  local window_ms = math.ceil(tonumber(ARGV[6]) / 1000)
  if window_ms < 1 then window_ms = 1 end
  redis.call('SET', P .. 'g:' .. d, ARGV[7], 'PX', int(window_ms))
end
redis.call('HSET', tkey, unpack(spent))
local refresh_exp = earliest(ARGV[5], abs)
redis.call('HSET', skey, 'exp', refresh_exp, 'refreshed', now)
if succ then
  redis.call('HSET', skey, 'cur', succ)
else
  redis.call('HDEL', skey, 'cur')
end
return {'rotated', sid, user, refresh_exp}
"
);

script!(
    REVOKE_SESSION,
    "`revoke_session`. ARGV: prefix, user, sid, now. Returns 1 if the session was active.",
    r"
local h = redis.call('HMGET', P .. 's:' .. ARGV[3], 'user', 'revoked', 'exp', 'abs')
if h[1] == ARGV[2] and active(h[2], h[3], h[4], ARGV[4]) then
  revoke(ARGV[3], ARGV[4])
  return 1
end
return 0
"
);

script!(
    REVOKE_USER_SESSIONS,
    "`revoke_user_sessions`. ARGV: prefix, user, keep (empty: none), now. Returns how many \
     active sessions were revoked.",
    r"
local ukey = P .. 'u:' .. ARGV[2]
local now = ARGV[4]
local n = 0
for _, sid in ipairs(redis.call('ZRANGE', ukey, 0, -1)) do
  local h = redis.call('HMGET', P .. 's:' .. sid, 'user', 'revoked', 'exp', 'abs')
  if not h[1] then
    redis.call('ZREM', ukey, sid) -- its keys expired
  elseif sid ~= ARGV[3] and h[1] == ARGV[2] and active(h[2], h[3], h[4], now) then
    revoke(sid, now)
    n = n + 1
  end
end
return n
"
);

script!(
    LIST_SESSIONS,
    "`list_sessions`: no write. ARGV: prefix, user. Returns, for each session in the user's \
     index, `{sid, user, created, refreshed, exp, abs, revoked, ip, ua, seq}`; the caller \
     filters and orders.",
    r"
local out = {}
for _, sid in ipairs(redis.call('ZRANGE', P .. 'u:' .. ARGV[2], 0, -1)) do
  local h = redis.call('HMGET', P .. 's:' .. sid,
    'user', 'created', 'refreshed', 'exp', 'abs', 'revoked', 'ip', 'ua', 'seq')
  if h[1] then
    table.insert(h, 1, sid)
    table.insert(out, h)
  end
end
return out
"
);

script!(
    INSERT_SINGLE_USE,
    "`insert_single_use_token`. ARGV: prefix, user, digest, kind, exp, void (0/1), now. \
     Returns `'collision'` or `'ok'`.",
    r"
local user, d, kind, exp, now = ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[7]
local tkey = P .. 't:' .. d
if redis.call('EXISTS', tkey) == 1 then return 'collision' end
local set = P .. 'su:' .. user .. ':' .. kind
if ARGV[6] == '1' then
  for _, other in ipairs(redis.call('SMEMBERS', set)) do
    local okey = P .. 't:' .. other
    local h = redis.call('HMGET', okey, 'kind', 'exp', 'spent')
    if not h[1] or h[3] then
      redis.call('SREM', set, other)
    elseif h[1] == kind and tonumber(h[2]) > tonumber(now) then
      redis.call('HSET', okey, 'spent', now)
      redis.call('ZADD', P .. 'd:u', 'LT', now, other)
      redis.call('SREM', set, other)
    end
  end
end
redis.call('HSET', tkey, 'kind', kind, 'exp', exp, 'user', user)
local life = ttl(exp, now)
redis.call('PEXPIRE', tkey, life)
redis.call('SADD', set, d)
extend(set, life)
redis.call('ZADD', P .. 'd:u', exp, d)
return 'ok'
"
);

script!(
    CONSUME_SINGLE_USE,
    "`consume_single_use_token`. ARGV: prefix, digest, kind, now. Returns the user, or nil.",
    r"
local d, kind, now = ARGV[2], ARGV[3], ARGV[4]
local tkey = P .. 't:' .. d
local h = redis.call('HMGET', tkey, 'kind', 'exp', 'user', 'spent')
if not h[3] or h[1] ~= kind or h[4] or tonumber(h[2]) <= tonumber(now) then return false end
redis.call('HSET', tkey, 'spent', now)
redis.call('ZADD', P .. 'd:u', 'LT', now, d)
redis.call('SREM', P .. 'su:' .. h[3] .. ':' .. kind, d)
return h[3]
"
);

script!(
    VOID_SINGLE_USE,
    "`void_single_use_tokens`. ARGV: prefix, user, kind, now. Returns how many outstanding \
     tokens were spent.",
    r"
local kind, now = ARGV[3], ARGV[4]
local set = P .. 'su:' .. ARGV[2] .. ':' .. kind
local n = 0
for _, d in ipairs(redis.call('SMEMBERS', set)) do
  local tkey = P .. 't:' .. d
  local h = redis.call('HMGET', tkey, 'kind', 'exp', 'spent')
  if not h[1] or h[3] then
    redis.call('SREM', set, d)
  elseif h[1] == kind and tonumber(h[2]) > tonumber(now) then
    redis.call('HSET', tkey, 'spent', now)
    redis.call('ZADD', P .. 'd:u', 'LT', now, d)
    redis.call('SREM', set, d)
    n = n + 1
  end
end
return n
"
);

script!(
    DELETE_EXPIRED,
    "`delete_expired`. ARGV: prefix, before, batch. Deletes up to `batch` entries of the \
     dead indexes whose score is at or before `before` (sessions with all their keys, then \
     access rows, single-use rows, rate-limit keys) and returns how many.",
    r"
local before, limit = ARGV[2], tonumber(ARGV[3])
local n = 0
local function due(index)
  if n >= limit then return {} end
  return redis.call('ZRANGEBYSCORE', P .. index, '-inf', before, 'LIMIT', 0, int(limit - n))
end
for _, sid in ipairs(due('d:s')) do
  local skey = P .. 's:' .. sid
  local set = P .. 'st:' .. sid
  local user = redis.call('HGET', skey, 'user')
  for _, d in ipairs(redis.call('SMEMBERS', set)) do
    redis.call('DEL', P .. 't:' .. d, P .. 'g:' .. d)
    redis.call('ZREM', P .. 'd:a', d)
  end
  redis.call('DEL', skey, set)
  if user then redis.call('ZREM', P .. 'u:' .. user, sid) end
  redis.call('ZREM', P .. 'd:s', sid)
  n = n + 1
end
for _, d in ipairs(due('d:a')) do
  local tkey = P .. 't:' .. d
  local sid = redis.call('HGET', tkey, 'sid')
  redis.call('DEL', tkey)
  if sid then redis.call('SREM', P .. 'st:' .. sid, d) end
  redis.call('ZREM', P .. 'd:a', d)
  n = n + 1
end
for _, d in ipairs(due('d:u')) do
  local tkey = P .. 't:' .. d
  local h = redis.call('HMGET', tkey, 'user', 'kind')
  redis.call('DEL', tkey)
  if h[1] then redis.call('SREM', P .. 'su:' .. h[1] .. ':' .. h[2], d) end
  redis.call('ZREM', P .. 'd:u', d)
  n = n + 1
end
for _, key in ipairs(due('d:r')) do
  redis.call('DEL', P .. 'r:' .. key)
  redis.call('ZREM', P .. 'd:r', key)
  n = n + 1
end
return n
"
);

script!(
    RATE_HIT,
    "`RateLimiter::hit`: `RateLimitWindow::hit` in Lua. ARGV: prefix, key, now, window (µs), \
     lockout (µs), max_attempts. The key's hash holds `ws` (window start), `n` (attempts) and \
     `lu` (locked until, absent when not locked). Returns `{code, attempts, locked_until}`: \
     code 1 allowed, 2 locked by this hit, 3 refused by a running lockout.",
    r"
local key, now = ARGV[2], tonumber(ARGV[3])
local window, lockout, max = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local rkey = P .. 'r:' .. key
local state = redis.call('HMGET', rkey, 'ws', 'n', 'lu')
local ws, n, lu = tonumber(state[1]), tonumber(state[2]) or 0, tonumber(state[3])
if ws == nil then ws = now; n = 0; lu = nil end
local code = 1
if lu ~= nil and lu > now then
  code = 3
elseif lu ~= nil or now >= ws + window then
  ws = now; n = 0; lu = nil
end
n = math.min(n + 1, 4294967295)
if code == 1 and n > max then
  lu = now + lockout
  code = 2
end
if lu == nil then
  redis.call('HDEL', rkey, 'lu')
  redis.call('HSET', rkey, 'ws', int(ws), 'n', int(n))
else
  redis.call('HSET', rkey, 'ws', int(ws), 'n', int(n), 'lu', int(lu))
end
-- Stale (deletable) once both the window and the lockout are over.
local stale = ws + window
if lu ~= nil and lu > stale then stale = lu end
redis.call('PEXPIRE', rkey, ttl(int(stale), int(now)))
redis.call('ZADD', P .. 'd:r', int(stale), key)
return {code, n, int(lu or 0)}
"
);

script!(
    RATE_CLEAR,
    "`RateLimiter::clear`. ARGV: prefix, key.",
    r"
redis.call('DEL', P .. 'r:' .. ARGV[2])
redis.call('ZREM', P .. 'd:r', ARGV[2])
return 1
"
);
