// The CLI pattern: one fresh Node process per command, running Cargo's official client (@cargo-ai/api) and
// printing the answer as JSON on stdout, as Cargo's CLI does (an error: {"errorMessage": …}, exit code 1).
// Usage: node cargo_cli.mjs '<{"baseUrl","token","workspaceUuid"}>' orchestration.batch.get '["<uuid>"]'
import { buildApi } from "@cargo-ai/api";

const [cfgText, call, argsText] = process.argv.slice(2);
const cfg = JSON.parse(cfgText);
const api = buildApi({ baseUrl: cfg.baseUrl, accessToken: cfg.token, workspaceUuid: cfg.workspaceUuid });
const path = call.split(".");
const method = path.pop();
const owner = path.reduce((node, key) => node[key], api);
try {
  const result = await owner[method](...JSON.parse(argsText || "[]"));
  process.stdout.write(JSON.stringify(result));
} catch (e) {
  process.stdout.write(JSON.stringify({ errorMessage: e?.message ?? String(e) }));
  process.exitCode = 1;
}
