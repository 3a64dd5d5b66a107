/*
 * Where each store keeps its keys, so that the keys one Lua script or multi-key command touches
 * together hash to the same Redis Cluster slot. Redis Cluster hashes only the part of a key
 * between its first `{` and the first `}` after it (the hash tag) when there is one, and refuses a
 * script or an MGET over keys of different slots (CROSSSLOT). So every key of one group carries
 * the same tag:
 *
 *   result cache   <prefix>{<key>}:r      the entry          } GET, MGET of both in wait(),
 *                  <prefix>{<key>}:l      the lease          } SET NX, the release script
 *   breaker state  <prefix>{<key>}:failures, :open, :trial   one script touches all three
 *   API keys       <prefix>ids            the set of key ids } one script writes a record and the
 *                  <prefix>record:<id>                       } set: on a cluster, give the store a
 *                                                              prefix with a tag, `{ballast:keys}:`
 *   limits         <prefix><key>          one key per script, no tag needed
 *
 * Pub/sub channels are not keys (the scripts get them as arguments). A prefix that itself holds a
 * `{...}` tag puts every key of the store in that tag's slot, which keeps each group together too.
 *
 * Why the API key store keeps its untagged layout: its records are the one state a rolling
 * upgrade must not lose (replicas on a new layout would refuse every key written under the old
 * one, and miss revocations written by old replicas meanwhile), and a prefix with a tag already
 * puts its few small keys in one slot.
 */

/**
 * `part` as a hash tag `{...}`: `%` and `}` escaped (`%25`, `%7D`) so the tag ends where the part
 * does and distinct parts stay distinct, and an empty part written `%00` (Redis hashes a key with
 * an empty tag `{}` whole, which would split a group).
 */
export function hashTag(part: string): string {
  if (part.length === 0) return '{%00}';
  if (part.indexOf('}') === -1 && part.indexOf('%') === -1) return `{${part}}`;
  return `{${part.replace(/[%}]/g, (char) => (char === '%' ? '%25' : '%7D'))}}`;
}

/** The result cache's entry and lease keys for one (already hashed, when long) cache key. */
export function cacheKeys(prefix: string, key: string): { entry: string; lease: string } {
  const tagged = prefix + hashTag(key);
  return { entry: `${tagged}:r`, lease: `${tagged}:l` };
}

/** The entry key alone, as `cacheKeys(prefix, key).entry` (the hit path builds only this one). */
export function cacheEntryKey(prefix: string, key: string): string {
  return `${prefix}${hashTag(key)}:r`;
}

/** The shared breaker state's keys for one circuit: failure count, open marker, trial lease. */
export function breakerKeys(prefix: string, key: string): { failures: string; open: string; trial: string } {
  const tagged = prefix + hashTag(key);
  return { failures: `${tagged}:failures`, open: `${tagged}:open`, trial: `${tagged}:trial` };
}

/** The API key store's keys: the set of key ids and one record's hash (one slot when `prefix` holds a tag). */
export function apiKeyKeys(prefix: string): { ids: string; record: (id: string) => string } {
  return { ids: `${prefix}ids`, record: (id) => `${prefix}record:${id}` };
}
