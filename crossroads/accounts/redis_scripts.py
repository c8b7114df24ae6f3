"""The two Lua scripts that make a key's rate limit and credit one account across replicas.

Each runs atomically inside Redis, so however many replicas race on one key, the check and the
change are one step — the same guarantee `Balance.try_reserve` gives within one process.

Keys of one API key (hash tag `{hash}`: all on one slot, a cluster can run the scripts):

* `…:rl` — sorted set, the sliding log: one member per admitted request, scored by its time;
  expires after the interval, so an idle key costs nothing.
* `…:spend` — hash, settled spend in micro-dollars per UTC day (field: the day's unix start)
  and `life` (since the key was created). Created once per key by the first replica that needs
  it, from what that replica knows (`seeded` marks it, even when it is all zeros); the script
  refuses to run a credit check on a missing hash and asks for the seed instead, and seeding is
  itself inside the script, so two replicas seeding at once cannot double count.
* `…:res` — sorted set of the reservations in flight, scored by their expiry, and `…:amt`,
  their amounts. Every admission first drops the expired ones: a replica that died mid-request
  leaks its reservation for at most the expiry.

ADMIT replies `[status, rl_limit, rl_remaining, rl_reset, spent, reserved]` (floats as strings:
Lua numbers would be truncated to integers on the way out).
"""

from __future__ import annotations

from typing import Final

ADMITTED: Final = 1
RATE_LIMITED: Final = 0
NEEDS_SEED: Final = 2
OVER_LIMIT: Final = 3

# KEYS: rl, spend, res, amt
# ARGV: now, rl_requests (0: no rate limit), rl_interval_s, rl_member,
#       limit (-1: none), amount, period_start (-1: lifetime), res_id, expiry, seeding,
#       seed field/value pairs…
ADMIT = """
local now = tonumber(ARGV[1])
local rl_requests = tonumber(ARGV[2])
local interval = tonumber(ARGV[3])
local limit = tonumber(ARGV[5])
local amount = tonumber(ARGV[6])
local period_start = tonumber(ARGV[7])
if limit >= 0 and redis.call('EXISTS', KEYS[2]) == 0 then
  if ARGV[10] ~= '1' then return {2, 0, 0, '0', 0, 0} end
  redis.call('HSET', KEYS[2], 'seeded', '1')
  for i = 11, #ARGV, 2 do redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1]) end
end
local rl_remaining, rl_reset = 0, '0'
if rl_requests > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - interval)
  local count = redis.call('ZCARD', KEYS[1])
  if count >= rl_requests then
    local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
    return {0, rl_requests, 0, tostring(tonumber(oldest[2]) + interval), 0, 0}
  end
  redis.call('ZADD', KEYS[1], now, ARGV[4])
  redis.call('PEXPIRE', KEYS[1], math.ceil(interval * 1000))
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  rl_remaining = rl_requests - count - 1
  rl_reset = tostring(tonumber(oldest[2]) + interval)
end
if limit < 0 then return {1, rl_requests, rl_remaining, rl_reset, 0, 0} end
local expired = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now)
if #expired > 0 then
  redis.call('HDEL', KEYS[4], unpack(expired))
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
end
local reserved = 0
for _, v in ipairs(redis.call('HVALS', KEYS[4])) do reserved = reserved + tonumber(v) end
local spent = 0
if period_start < 0 then
  spent = tonumber(redis.call('HGET', KEYS[2], 'life') or '0')
else
  local fields = redis.call('HGETALL', KEYS[2])
  for i = 1, #fields, 2 do
    local day = tonumber(fields[i])
    if day ~= nil and day >= period_start then spent = spent + tonumber(fields[i + 1]) end
  end
end
if spent + reserved + amount > limit then
  return {3, rl_requests, rl_remaining, rl_reset, spent, reserved}
end
redis.call('ZADD', KEYS[3], ARGV[9], ARGV[8])
redis.call('HSET', KEYS[4], ARGV[8], amount)
return {1, rl_requests, rl_remaining, rl_reset, spent, reserved + amount}
"""

# KEYS: spend, res, amt
# ARGV: res_id ('' when nothing was reserved in Redis), cost, day, stale_day
# The spend is added only to a seeded hash: a missing one is seeded later from the ledger's
# and the replicas' own sums, which already hold this cost.
SETTLE = """
if ARGV[1] ~= '' then
  redis.call('ZREM', KEYS[2], ARGV[1])
  redis.call('HDEL', KEYS[3], ARGV[1])
end
local cost = tonumber(ARGV[2])
if cost > 0 and redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HINCRBY', KEYS[1], ARGV[3], cost)
  redis.call('HINCRBY', KEYS[1], 'life', cost)
  redis.call('HDEL', KEYS[1], ARGV[4])
end
return 1
"""


ADMIT_KEYS: Final = ("rl", "spend", "res", "amt")
"""The keys ADMIT takes, in order (`account_keys`)."""


def account_keys(key_hash: str) -> tuple[str, str, str, str]:
    """(rl, spend, res, amt) of one API key."""
    base = f"crossroads:acct:{{{key_hash}}}"
    return f"{base}:rl", f"{base}:spend", f"{base}:res", f"{base}:amt"
