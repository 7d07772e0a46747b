#pragma once
// The Lua scripts RedisStore runs (SCRIPT LOAD once per server, EVALSHA afterwards; NOSCRIPT
// triggers a reload). Every multi-key write is one script so that Redis runs it atomically:
// no reader ever sees a row without its index entries, an id without its row, or a version
// without its change record.
//
// Key layout. B = "{" + key_prefix + "}:" (the braces are a Redis Cluster hash tag: every
// key of one cache hashes to one slot). M = the id as 19 zero-padded decimal digits, so that
// members with equal scores sort by id (Redis orders ties lexicographically). X = the
// namespace as lowercase hex (namespaces are arbitrary bytes; hex keeps "a" and "a:b", NUL,
// separators and the empty namespace apart in key names).
//
//   B meta          hash   meta key -> value ("fingerprint", "dim", "schema_version", ...)
//   B ver           string version counter (latest change's version; absent = 0)
//   B nextid        string last allocated id
//   B feed          zset   change feed: member "<version>:<u|d>:<M>", score = version;
//                          holds the versions (ver - ZCARD, ver], trimmed to the retention
//   B quota         hash   raw namespace -> max entries
//   B nsc           hash   raw namespace -> row count (fields removed at zero)
//   B ids           zset   every row: member M, score = id
//   B lru           zset   every row: member M, score = last_accessed_at (ms)
//   B exp           zset   rows with a ttl: member M, score = created_at + ttl (ms)
//   B e:<M>         hash   the row: ns x h q r v m c a t n (see kEntryFields)
//   B n:<X>:ids     zset   the namespace's rows (as B ids)
//   B n:<X>:lru     zset   (as B lru)
//   B n:<X>:exp     zset   (as B exp)
//   B n:<X>:hx      hash   16-byte query hash -> M
//   B s:<T>:...     a restore's staging area (T = a random token): the layout above under the
//                   base B s:<T>:, plus "ready"; every key expires unless restore_switch
//                   moves it into place (see kRestoreRows, kRestoreSwitch)
//
// Numbers go through Lua as doubles: ids, versions and millisecond timestamps are exact up
// to 2^53 (year 287,000), which every realistic value is.

namespace engram::detail::lua {

// Shared helpers, prepended to every script. ARGV[1] is always B.
inline constexpr const char* kPrelude = R"lua(
local B = ARGV[1]
local function ekey(m) return B .. 'e:' .. m end
local function nkey(x, s) return B .. 'n:' .. x .. ':' .. s end
local function bump(kind, m)
  local v = redis.call('INCR', B .. 'ver')
  redis.call('ZADD', B .. 'feed', v, string.format('%d', v) .. ':' .. kind .. ':' .. m)
end
local function trim(retention)
  local n = redis.call('ZCARD', B .. 'feed')
  if n > retention then redis.call('ZREMRANGEBYRANK', B .. 'feed', 0, n - retention - 1) end
end
local function remove_row(m)
  local f = redis.call('HMGET', ekey(m), 'ns', 'x', 'h')
  if not f[1] then return false end
  local ns, x, h = f[1], f[2], f[3]
  redis.call('DEL', ekey(m))
  redis.call('ZREM', B .. 'ids', m)
  redis.call('ZREM', B .. 'lru', m)
  redis.call('ZREM', B .. 'exp', m)
  redis.call('ZREM', nkey(x, 'ids'), m)
  redis.call('ZREM', nkey(x, 'lru'), m)
  redis.call('ZREM', nkey(x, 'exp'), m)
  if redis.call('HGET', nkey(x, 'hx'), h) == m then redis.call('HDEL', nkey(x, 'hx'), h) end
  if redis.call('HINCRBY', B .. 'nsc', ns, -1) <= 0 then redis.call('HDEL', B .. 'nsc', ns) end
  bump('d', m)
  return true
end
)lua";

// open: ARGV B fingerprint dim schema_version. Records them on first use; returns
// {"created"} or {"existing", fingerprint, dim, schema_version} (false for a missing field).
inline constexpr const char* kOpen = R"lua(
local f = redis.call('HMGET', B .. 'meta', 'fingerprint', 'dim', 'schema_version')
if not f[1] and not f[2] then
  redis.call('HSET', B .. 'meta', 'fingerprint', ARGV[2], 'dim', ARGV[3], 'schema_version', ARGV[4])
  return {'created'}
end
return {'existing', f[1], f[2], f[3]}
)lua";

// upsert: ARGV B retention count, then per row 12 values:
//   ns x h q r v m c a t n expires  (t and expires are '' without a ttl)
// Returns the members (zero-padded ids) in input order.
inline constexpr const char* kUpsert = R"lua(
local retention = tonumber(ARGV[2])
local count = tonumber(ARGV[3])
local out = {}
local i = 4
for r = 1, count do
  local ns, x, h = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local t, expires, a = ARGV[i + 9], ARGV[i + 11], ARGV[i + 8]
  local hx = nkey(x, 'hx')
  local m = redis.call('HGET', hx, h)
  if not m then
    m = string.format('%019d', redis.call('INCR', B .. 'nextid'))
    redis.call('HSET', hx, h, m)
    redis.call('HINCRBY', B .. 'nsc', ns, 1)
    redis.call('ZADD', B .. 'ids', m, m)
    redis.call('ZADD', nkey(x, 'ids'), m, m)
  end
  redis.call('HSET', ekey(m), 'ns', ns, 'x', x, 'h', h, 'q', ARGV[i + 3], 'r', ARGV[i + 4],
             'v', ARGV[i + 5], 'm', ARGV[i + 6], 'c', ARGV[i + 7], 'a', a, 'n', ARGV[i + 10])
  if t == '' then
    redis.call('HDEL', ekey(m), 't')
    redis.call('ZREM', B .. 'exp', m)
    redis.call('ZREM', nkey(x, 'exp'), m)
  else
    redis.call('HSET', ekey(m), 't', t)
    redis.call('ZADD', B .. 'exp', expires, m)
    redis.call('ZADD', nkey(x, 'exp'), expires, m)
  end
  redis.call('ZADD', B .. 'lru', a, m)
  redis.call('ZADD', nkey(x, 'lru'), a, m)
  bump('u', m)
  out[r] = m
  i = i + 12
end
trim(retention)
return out
)lua";

// touch: ARGV B mode, then triples M at hits. mode "set": last_accessed_at = at (update_access);
// mode "max": last_accessed_at = max(stored, at) (touch_many). Missing rows are skipped.
inline constexpr const char* kTouch = R"lua(
local set = ARGV[2] == 'set'
local touched = 0
for i = 3, #ARGV, 3 do
  local m, at, hits = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local f = redis.call('HMGET', ekey(m), 'x', 'a')
  if f[1] then
    local a = f[2]
    if set or tonumber(at) > tonumber(a) then a = at end
    redis.call('HSET', ekey(m), 'a', a)
    redis.call('HINCRBY', ekey(m), 'n', hits)
    redis.call('ZADD', B .. 'lru', a, m)
    redis.call('ZADD', nkey(f[1], 'lru'), a, m)
    touched = touched + 1
  end
end
return touched
)lua";

// delete: ARGV B retention M... Returns the number of rows removed.
inline constexpr const char* kDelete = R"lua(
local removed = 0
for i = 3, #ARGV do
  if remove_row(ARGV[i]) then removed = removed + 1 end
end
trim(tonumber(ARGV[2]))
return removed
)lua";

// delete_expired: ARGV B retention now scoped X. Removes rows with created_at + ttl <= now.
inline constexpr const char* kDeleteExpired = R"lua(
local key = B .. 'exp'
if ARGV[4] == '1' then key = nkey(ARGV[5], 'exp') end
local members = redis.call('ZRANGEBYSCORE', key, '-inf', ARGV[3])
local removed = 0
for _, m in ipairs(members) do
  if remove_row(m) then removed = removed + 1 end
end
trim(tonumber(ARGV[2]))
return removed
)lua";

// clear_namespace: ARGV B retention X.
inline constexpr const char* kClearNamespace = R"lua(
local x = ARGV[3]
local members = redis.call('ZRANGE', nkey(x, 'ids'), 0, -1)
local removed = 0
for _, m in ipairs(members) do
  if remove_row(m) then removed = removed + 1 end
end
redis.call('DEL', nkey(x, 'ids'), nkey(x, 'lru'), nkey(x, 'exp'), nkey(x, 'hx'))
trim(tonumber(ARGV[2]))
return removed
)lua";

// get_by_hash: ARGV B X hash. Returns false or {M, fields...} (fields as kEntryFields).
inline constexpr const char* kGetByHash = R"lua(
local m = redis.call('HGET', nkey(ARGV[2], 'hx'), ARGV[3])
if not m then return false end
local f = redis.call('HMGET', ekey(m), 'ns', 'h', 'q', 'r', 'v', 'm', 'c', 'a', 't', 'n')
table.insert(f, 1, m)
return f
)lua";

// changes: ARGV B version limit. Returns {'behind'} when the feed cannot answer, else
// {'ok', member...} ascending.
inline constexpr const char* kChanges = R"lua(
local ver = tonumber(redis.call('GET', B .. 'ver') or '0')
local v = tonumber(ARGV[2])
if v > ver then return {'behind'} end
if v == ver then return {'ok'} end
local first = redis.call('ZRANGE', B .. 'feed', 0, 0, 'WITHSCORES')
if #first == 0 or tonumber(first[2]) > v + 1 then return {'behind'} end
local out = redis.call('ZRANGEBYSCORE', B .. 'feed', '(' .. ARGV[2], '+inf', 'LIMIT', 0, ARGV[3])
table.insert(out, 1, 'ok')
return out
)lua";

// page: ARGV B after_id limit kind. Rows with id > after_id, ascending, at most limit (-1:
// all). kind "all": {M, ns, h, q, r, v, m, c, a, t, n}; kind "index": {M, ns, h, c, t, v}.
// Returns {ver, row...} so a snapshot can tell whether the counter moved between pages.
inline constexpr const char* kPage = R"lua(
local members = redis.call('ZRANGEBYSCORE', B .. 'ids', '(' .. ARGV[2], '+inf', 'LIMIT', 0, ARGV[3])
local out = {redis.call('GET', B .. 'ver') or '0'}
local index = ARGV[4] == 'index'
for _, m in ipairs(members) do
  local f
  if index then
    f = redis.call('HMGET', ekey(m), 'ns', 'h', 'c', 't', 'v')
  else
    f = redis.call('HMGET', ekey(m), 'ns', 'h', 'q', 'r', 'v', 'm', 'c', 'a', 't', 'n')
  end
  table.insert(f, 1, m)
  out[#out + 1] = f
end
return out
)lua";

// integrity: ARGV B dim after_id limit. Checks a page of rows against every index. Returns
// {last M or '', problems found, description of the first problem or ''}.
inline constexpr const char* kIntegrity = R"lua(
local dim = tonumber(ARGV[2])
local members = redis.call('ZRANGEBYSCORE', B .. 'ids', '(' .. ARGV[3], '+inf', 'LIMIT', 0, ARGV[4])
local bad, first = 0, ''
local function fail(m, why)
  bad = bad + 1
  if first == '' then first = m .. ': ' .. why end
end
for _, m in ipairs(members) do
  local f = redis.call('HMGET', ekey(m), 'ns', 'x', 'h', 'q', 'r', 'v', 'm', 'c', 'a', 't', 'n')
  local ns, x, h, v, c, a, t = f[1], f[2], f[3], f[6], f[8], f[9], f[10]
  if not (ns and x and h and f[4] and f[5] and v and f[7] and c and a and f[11]) then
    fail(m, 'row missing or incomplete')
  elseif #h ~= 16 then fail(m, 'query hash is not 16 bytes')
  elseif dim > 0 and #v ~= 4 * dim then fail(m, 'embedding has the wrong size')
  elseif not tonumber(c) or not tonumber(a) or not tonumber(f[11]) then fail(m, 'bad number')
  elseif redis.call('HGET', nkey(x, 'hx'), h) ~= m then fail(m, 'hash index does not point at the row')
  elseif not redis.call('ZSCORE', nkey(x, 'ids'), m) then fail(m, 'missing from namespace ids')
  elseif tonumber(redis.call('ZSCORE', B .. 'lru', m) or 'nan') ~= tonumber(a) then
    fail(m, 'lru score differs from last_accessed_at')
  elseif not redis.call('ZSCORE', nkey(x, 'lru'), m) then fail(m, 'missing from namespace lru')
  elseif (t ~= false) ~= (redis.call('ZSCORE', B .. 'exp', m) ~= false) then fail(m, 'expiry index disagrees with ttl')
  end
end
local last = ''
if #members > 0 then last = members[#members] end
return {last, bad, first}
)lua";

// restore_rows: ARGV S ttl_ms, then per row 13 values: M ns x h q r v m c a t n expires.
// Writes rows as they are (ids kept) into the STAGING area S = B .. "s:<token>:" (the prelude's
// B is S here: the staging area has the destination's layout under a longer base, and the
// same hash tag, so it lives in the destination's cluster slot). No version bump and no feed:
// restore_switch sets the counter. Every key written expires after ttl_ms, so the staging
// area of a restore whose process died goes away by itself; restore_switch removes the
// expiry from the keys it moves into place.
inline constexpr const char* kRestoreRows = R"lua(
local ttl = ARGV[2]
for i = 3, #ARGV, 13 do
  local m, ns, x, h = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  local a, t, expires = ARGV[i + 9], ARGV[i + 10], ARGV[i + 12]
  redis.call('HSET', ekey(m), 'ns', ns, 'x', x, 'h', h, 'q', ARGV[i + 4], 'r', ARGV[i + 5],
             'v', ARGV[i + 6], 'm', ARGV[i + 7], 'c', ARGV[i + 8], 'a', a, 'n', ARGV[i + 11])
  redis.call('PEXPIRE', ekey(m), ttl)
  if t ~= '' then
    redis.call('HSET', ekey(m), 't', t)
    redis.call('ZADD', B .. 'exp', expires, m)
    redis.call('ZADD', nkey(x, 'exp'), expires, m)
    redis.call('PEXPIRE', B .. 'exp', ttl)
    redis.call('PEXPIRE', nkey(x, 'exp'), ttl)
  end
  redis.call('HSET', nkey(x, 'hx'), h, m)
  redis.call('HINCRBY', B .. 'nsc', ns, 1)
  redis.call('ZADD', B .. 'ids', m, m)
  redis.call('ZADD', nkey(x, 'ids'), m, m)
  redis.call('ZADD', B .. 'lru', a, m)
  redis.call('ZADD', nkey(x, 'lru'), a, m)
  for _, k in ipairs({nkey(x, 'hx'), nkey(x, 'ids'), nkey(x, 'lru')}) do redis.call('PEXPIRE', k, ttl) end
end
for _, k in ipairs({B .. 'nsc', B .. 'ids', B .. 'lru'}) do redis.call('PEXPIRE', k, ttl) end
return 1
)lua";

// restore_switch: ARGV B S pattern rows snapshot_ver snapshot_next_id staged_keys. Replaces
// the content of B with the staging area S in one atomic step (a script: no other command
// runs in between, so every other handle and writer sees the old content or the new one,
// never a mix).
//   * Refuses (ENGRAM_RESTORE_INCOMPLETE, nothing changed) unless S's "ready" marker exists,
//     S holds `rows` rows and exactly `staged_keys` keys (the number the client wrote): another
//     restore's switch removed this staging area, or Redis evicted some of its keys (they
//     carry a TTL, so a volatile-* maxmemory policy may pick them).
//   * Finds every key matching `pattern` (B, glob-escaped, then '*'): keys under S are moved
//     to B (RENAME + PERSIST), every other key (old rows, indexes, feed, stray keys of a
//     damaged prefix, abandoned staging areas) is deleted.
//   * Lineage (LINEAGE.md L2, L3): nextid = max(old nextid, highest old id, snapshot's);
//     when B held any key, ver = max(old ver, snapshot's) + 1, else the snapshot's. The feed
//     starts empty, so changes_since(v) is 'behind' for every v < ver. Concurrent writers'
//     INCRs of nextid before the switch are included in "old nextid": ids never collide.
// Returns {ver, nextid, number of old keys removed}.
inline constexpr const char* kRestoreSwitch = R"lua(
local S, pattern = ARGV[2], ARGV[3]
local rows, snap_ver, snap_next = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
if redis.call('EXISTS', S .. 'ready') == 0 or redis.call('ZCARD', S .. 'ids') ~= rows then
  return redis.error_reply('ENGRAM_RESTORE_INCOMPLETE the staging area of this restore is gone')
end
-- The old state is read with pcall: a damaged prefix (a key of the wrong type, a counter
-- that is not a number) must not stop the restore that repairs it.
local function number_at(cmd, key, ...)
  local ok, v = pcall(redis.call, cmd, key, ...)
  if not ok or not v then return 0 end
  if type(v) == 'table' then v = v[1] end
  return tonumber(v) or 0
end
local old_ver = number_at('GET', B .. 'ver')
local old_next = math.max(number_at('GET', B .. 'nextid'), number_at('ZRANGE', B .. 'ids', -1, -1))
local old, staged, seen = {}, {}, {}
local cursor = '0'
repeat
  local r = redis.call('SCAN', cursor, 'MATCH', pattern, 'COUNT', 1000)
  cursor = r[1]
  for _, k in ipairs(r[2]) do
    if not seen[k] then
      seen[k] = true
      if k:sub(1, #S) == S then staged[#staged + 1] = k else old[#old + 1] = k end
    end
  end
until cursor == '0'
if #staged ~= tonumber(ARGV[7]) then
  return redis.error_reply('ENGRAM_RESTORE_INCOMPLETE the staging area of this restore lost keys')
end
for _, k in ipairs(old) do redis.call('DEL', k) end
redis.call('DEL', S .. 'ready')
for _, k in ipairs(staged) do
  if k ~= S .. 'ready' then
    local target = B .. k:sub(#S + 1)
    redis.call('RENAME', k, target)
    redis.call('PERSIST', target)
  end
end
local ver = snap_ver
if #old > 0 then ver = math.max(old_ver, snap_ver) + 1 end
local next_id = math.max(old_next, snap_next)
if next_id > 0 then redis.call('SET', B .. 'nextid', string.format('%d', next_id)) end
if ver > 0 then redis.call('SET', B .. 'ver', string.format('%d', ver)) end
return {ver, next_id, #old}
)lua";

}  // namespace engram::detail::lua
