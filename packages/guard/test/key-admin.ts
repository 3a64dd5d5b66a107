/*
 * A second process using a key file, as an admin command would: `revoke <path> <id>` revokes a
 * key, `create <path> <count>` creates keys. Run with tsx by the file key store tests.
 */
import { apiKeys, fileKeyStore } from '@ballast/guard';

const [command, path, argument] = process.argv.slice(2);
if (path === undefined || argument === undefined) throw new Error('usage: key-admin.ts revoke|create <path> <id|count>');
const keys = apiKeys({
  secret: process.env.KEY_SECRET ?? 'server-secret-of-at-least-32-bytes!!',
  store: fileKeyStore({ path }),
  cache: false,
});
if (command === 'revoke') {
  console.log(JSON.stringify({ revoked: await keys.revoke(argument) }));
} else if (command === 'create') {
  for (let i = 0; i < Number(argument); i++) await keys.create({ principalId: `admin-${i}` });
  console.log(JSON.stringify({ created: Number(argument) }));
} else {
  throw new Error(`unknown command ${command}`);
}
