package redisstore

import "github.com/redis/go-redis/v9"

// Each script runs atomically in Redis, so a claim and the entry it guards
// are written together or not at all.

// saveScript queues or updates an entry for replica ARGV[1]. An entry owned
// by another replica is left alone (0). An entry without an owner — new,
// or lost by a Redis restart — is claimed first: refused (0) when the claim
// belongs to someone else (another replica, "done", "dead").
//
//	KEYS: alert:<id>, outbox, owner
//	ARGV: replica, entry JSON, horizon ms, id
var saveScript = redis.NewScript(`
local o = redis.call('HGET', KEYS[3], ARGV[4])
if o then
  if o ~= ARGV[1] then return 0 end
else
  local c = redis.call('GET', KEYS[1])
  if c and c ~= ARGV[1] then return 0 end
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
end
redis.call('HSET', KEYS[2], ARGV[4], ARGV[2])
redis.call('HSET', KEYS[3], ARGV[4], ARGV[1])
return 1
`)

// finishScript records an entry as delivered ("done") or dead-lettered
// ("dead", with the entry kept in the dead hash). It does so whoever owns
// the entry now: the notifiers have the alert, and a replica that adopted
// it meanwhile finds the claim taken and drops its copy.
//
//	KEYS: alert:<id>, outbox, owner, dead
//	ARGV: id, "done" | "dead", horizon ms, dead-letter JSON
var finishScript = redis.NewScript(`
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
if ARGV[2] == 'dead' then redis.call('HSET', KEYS[4], ARGV[1], ARGV[4]) end
return 1
`)

// beatScript renews replica ARGV[1]'s heartbeat and adopts the pending
// entries of replicas whose heartbeat has expired. It returns whether the
// heartbeat was still there (0 means Redis lost it: restarted without
// persistence, or this replica stalled past its lease) followed by the
// adopted entries' JSON.
//
//	KEYS: replica:<me>, owner, outbox
//	ARGV: replica, lease ms, key prefix, horizon ms
var beatScript = redis.NewScript(`
local had = redis.call('EXISTS', KEYS[1])
redis.call('SET', KEYS[1], '1', 'PX', ARGV[2])
local out = {had}
local all = redis.call('HGETALL', KEYS[2])
for i = 1, #all, 2 do
  local id, o = all[i], all[i+1]
  if o ~= ARGV[1] and redis.call('EXISTS', ARGV[3] .. 'replica:' .. o) == 0 then
    local e = redis.call('HGET', KEYS[3], id)
    if e then
      redis.call('HSET', KEYS[2], id, ARGV[1])
      redis.call('SET', ARGV[3] .. 'alert:' .. id, ARGV[1], 'PX', ARGV[4])
      table.insert(out, e)
    else
      redis.call('HDEL', KEYS[2], id)
    end
  end
end
return out
`)
