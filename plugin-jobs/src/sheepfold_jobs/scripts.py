"""The Lua scripts of the arq adapter: each one step, so no two workers ever claim the same job.

Every key a script touches belongs to one queue and carries its hash tag
(:mod:`sheepfold_jobs.keys`), so on a Cluster each runs in that queue's
slot. All are declared in ``KEYS`` but the in-progress keys that
:data:`CLAIM` takes for the jobs it finds (``arq:in-progress:<arq id>``):
it learns their ids as it reads the index. Those ids carry the queue's tag
too, so the keys lie in the script's own slot, which a Cluster node serves.
"""

from __future__ import annotations

# KEYS: job, result, arq queue, index, wake channel, idle flag, timeouts
# ARGV: job id, job data, due ms, job expiry ms, index score, function timeout ms
ENQUEUE = """
if redis.call('EXISTS', KEYS[1], KEYS[2]) > 0 then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[4])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
redis.call('ZADD', KEYS[4], ARGV[5], ARGV[1])
redis.call('HSET', KEYS[7], ARGV[1], ARGV[6])
if redis.call('DEL', KEYS[6]) == 1 then redis.call('PUBLISH', KEYS[5], '1') end
return 1
"""

# KEYS: arq queue, index, active (3 bands), queue times (3 bands), idle flag, timeouts
# ARGV: now ms, how many to claim, default lease ms, band width, in-progress key prefix, queue-time samples
#       kept, idle flag ttl ms, crash margin ms
# A job's lease is its function's timeout (from the timeouts hash) plus the crash margin; the default
# lease (the longest timeout plus the margin) serves jobs enqueued without one (by plain arq).
# Returns {id, band, score, id, band, score, ..., next due ms or -1}. Sets the idle flag when it claimed
# fewer jobs than asked for: the worker will sleep with free slots, and the next enqueue must wake it.
CLAIM = """
local now, want, lease, width = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local prefix, samples, margin = ARGV[5], tonumber(ARGV[6]) - 1, tonumber(ARGV[8])
-- Leases of workers that died: their jobs go back to the index (arq's queue still holds them).
for band = 0, 2 do
  local expired = redis.call('ZRANGEBYSCORE', KEYS[3 + band], '-inf', now, 'LIMIT', 0, 100)
  for _, id in ipairs(expired) do
    redis.call('ZREM', KEYS[3 + band], id)
    local score = redis.call('ZSCORE', KEYS[1], id)
    if score then redis.call('ZADD', KEYS[2], band * width + tonumber(score), id)
    else redis.call('HDEL', KEYS[10], id) end
  end
end
local claimed, count, next_due = {}, 0, -1
for band = 0, 2 do
  local low = band * width
  local offset = 0
  while count < want and offset < 500 do
    local ids = redis.call('ZRANGEBYSCORE', KEYS[2], low, low + now, 'LIMIT', offset, want - count + 20)
    if #ids == 0 then break end
    for _, id in ipairs(ids) do
      if count >= want then break end
      local score = redis.call('ZSCORE', KEYS[1], id)
      if not score then
        redis.call('ZREM', KEYS[2], id)  -- finished elsewhere (a stock arq worker)
        redis.call('HDEL', KEYS[10], id)
      elseif tonumber(score) > now then
        redis.call('ZADD', KEYS[2], low + tonumber(score), id)  -- deferred elsewhere (an arq retry)
      elseif redis.call('EXISTS', prefix .. id) == 1 then
        offset = offset + 1  -- running on a stock arq worker: leave it
      else
        local timeout = redis.call('HGET', KEYS[10], id)
        local job_lease = timeout and (tonumber(timeout) + margin) or lease
        redis.call('SET', prefix .. id, '1', 'PX', job_lease)
        redis.call('ZREM', KEYS[2], id)
        redis.call('ZADD', KEYS[3 + band], now + job_lease, id)
        redis.call('LPUSH', KEYS[6 + band], now - tonumber(score))
        redis.call('LTRIM', KEYS[6 + band], 0, samples)
        claimed[#claimed + 1] = id
        claimed[#claimed + 1] = band
        claimed[#claimed + 1] = score
        count = count + 1
      end
    end
  end
  -- string.format: Lua's own number-to-string keeps 14 digits and would cut the fraction of the ms.
  local later = redis.call('ZRANGEBYSCORE', KEYS[2], '(' .. string.format('%.3f', low + now), low + width - 1,
                           'WITHSCORES', 'LIMIT', 0, 1)
  if #later > 0 then
    local due = tonumber(later[2]) - low
    if next_due < 0 or due < next_due then next_due = due end
  end
end
if count < want then redis.call('SET', KEYS[9], '1', 'PX', ARGV[7]) end
claimed[#claimed + 1] = next_due
return claimed
"""

# KEYS: job, retry, in-progress, result, the queue's abort set, arq queue, index, active (its band), counts,
#       failed ids, failed records, timeouts
# ARGV: job id, mode (done|failed|retry|requeue), result data or '', result ttl ms (0: forever),
#       band, band offset, score increment, failed record or '', now ms, failed list size
FINISH = """
local id, mode = ARGV[1], ARGV[2]
redis.call('ZREM', KEYS[8], id)
if mode == 'done' or mode == 'failed' then
  if ARGV[3] ~= '' then
    if tonumber(ARGV[4]) > 0 then redis.call('SET', KEYS[4], ARGV[3], 'PX', ARGV[4])
    else redis.call('SET', KEYS[4], ARGV[3]) end
  end
  redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
  redis.call('ZREM', KEYS[5], id)
  redis.call('ZREM', KEYS[6], id)
  redis.call('ZREM', KEYS[7], id)
  redis.call('HDEL', KEYS[12], id)
  redis.call('HINCRBY', KEYS[9], (mode == 'done' and 'completed:' or 'failed:') .. ARGV[5], 1)
  if mode == 'failed' and ARGV[8] ~= '' then
    redis.call('ZADD', KEYS[10], ARGV[9], id)
    redis.call('HSET', KEYS[11], id, ARGV[8])
    local extra = redis.call('ZCARD', KEYS[10]) - tonumber(ARGV[10])
    if extra > 0 then
      local gone = redis.call('ZPOPMIN', KEYS[10], extra)
      for i = 1, #gone, 2 do redis.call('HDEL', KEYS[11], gone[i]) end
    end
  end
  return 1
end
redis.call('DEL', KEYS[3])
local score = redis.call('ZSCORE', KEYS[6], id)
if score then
  if mode == 'retry' then score = redis.call('ZINCRBY', KEYS[6], ARGV[7], id) end
  redis.call('ZADD', KEYS[7], tonumber(ARGV[6]) + tonumber(score), id)
end
return 1
"""

# KEYS: job, in-progress, arq queue, index, the queue's abort set, wake channel (published on unconditionally:
#       the worker running the job may be busy, and must see the abort soon), timeouts
# ARGV: job id, now ms
# Returns the job's data when it was waiting (now removed), 1 when it runs (abort requested), 0 otherwise.
ABORT = """
if redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('ZADD', KEYS[5], ARGV[2], ARGV[1])
  redis.call('PUBLISH', KEYS[6], '1')
  return 1
end
if not redis.call('ZSCORE', KEYS[3], ARGV[1]) then return 0 end
local data = redis.call('GET', KEYS[1])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('ZREM', KEYS[4], ARGV[1])
redis.call('HDEL', KEYS[7], ARGV[1])
redis.call('DEL', KEYS[1])
return data or 0
"""

# KEYS: failed ids, failed records, result, retry (the job is enqueued again next, from try 1)
# ARGV: arq id
FORGET_FAILURE = """
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('DEL', KEYS[3], KEYS[4])
return 1
"""
