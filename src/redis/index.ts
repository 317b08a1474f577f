/** Redis plumbing: the connection, and delivery through Redis shared by many processes. */
export { RedisUnavailableError, type RedisCommands } from "./commands.js";
export { RedisConnection, type RedisConnectionOptions } from "./connection.js";
export { RedisEvictionPolicyError } from "./eviction-policy.js";
export { RedisDelivery, redisDelivery, type RedisDeliveryOptions } from "./redis-delivery.js";
export { redisBackends, type RedisBackends, type RedisBackendsOptions } from "./redis-backends.js";
