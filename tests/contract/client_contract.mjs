// Calls every endpoint the sandbox implements through the official client, @cargo-ai/api, and prints one
// JSON document: {calls: {name: {ok, result | error}}, errors: {case: error}}. The Python test asserts on it.
// Usage: node client_contract.mjs '<json config>'   (config: baseUrl, token, workspaceUuid and entity ids)
import { buildApi } from "@cargo-ai/api";

const cfg = JSON.parse(process.argv[2]);
const api = buildApi({ baseUrl: cfg.baseUrl, accessToken: cfg.token, workspaceUuid: cfg.workspaceUuid });
const o = api.orchestration;
const recent = new Date(Date.now() - 30 * 24 * 3600 * 1000).toISOString();
const since = new Date(Date.now() - 90 * 24 * 3600 * 1000).toISOString(); // before any sandbox data

const calls = {
  "orchestration.workflow.all": () => o.workflow.all(),
  "orchestration.tool.all": () => o.tool.all(),
  "orchestration.tool.get": () => o.tool.get(cfg.toolUuid),
  "orchestration.play.list": () => o.play.list({}),
  "orchestration.play.get": () => o.play.get(cfg.playUuid),
  "orchestration.release.list": () => o.release.list({ workflowUuid: cfg.workflowUuid }),
  "orchestration.release.get": () => o.release.get(cfg.releaseUuid),
  "orchestration.release.getDeployed": () => o.release.getDeployed({ workflowUuid: cfg.workflowUuid }),
  "orchestration.batch.list": () => o.batch.list({ workflowUuids: [cfg.workflowUuid], limit: 5 }),
  "orchestration.batch.get": () => o.batch.get(cfg.batchUuid),
  "orchestration.batch.download": () => o.batch.download({ uuid: cfg.batchUuid, outputNodeSlug: cfg.outputNodeSlug }),
  "orchestration.run.get": () => o.run.get(cfg.runUuid),
  "orchestration.run.list": () => o.run.list({ workflowUuid: cfg.workflowUuid, batchUuid: cfg.batchUuid, limit: 5 }),
  "orchestration.run.count": () => o.run.count({ workflowUuid: cfg.workflowUuid, batchUuid: cfg.batchUuid }),
  "orchestration.run.count.errors": () =>
    o.run.count({ workflowUuid: cfg.workflowUuid, batchUuid: cfg.batchUuid, statuses: ["error"] }),
  "orchestration.run.download": () =>
    o.run.download({ workflowUuid: cfg.workflowUuid, batchUuid: cfg.batchUuid, statuses: ["error"] }),
  "orchestration.run.downloadOutputs": () =>
    o.run.downloadOutputs({ workflowUuid: cfg.workflowUuid, batchUuid: cfg.batchUuid, format: "json" }),
  "orchestration.run.getMetrics": () => o.run.getMetrics({ workflowUuid: cfg.workflowUuid, batchUuid: cfg.batchUuid }),
  "orchestration.span.list": () => o.span.list({ runUuid: cfg.runUuid, executionStartedAfter: since, limit: 50 }),
  "orchestration.span.count": () => o.span.count({ runUuid: cfg.runUuid, executionStartedAfter: since }),
  "orchestration.query.execute": () =>
    o.query.execute({ query: `SELECT count() AS n FROM runs WHERE batch_uuid = '${cfg.batchUuid}'` }),
  "orchestration.record.list": () => o.record.list({ workflowUuid: cfg.workflowUuid, batchUuid: cfg.batchUuid, limit: 5 }),
  "orchestration.record.count": () => o.record.count({ workflowUuid: cfg.workflowUuid, batchUuid: cfg.batchUuid }),
  "orchestration.record.downloadOutputs": () =>
    o.record.downloadOutputs({ workflowUuid: cfg.workflowUuid, batchUuid: cfg.batchUuid, format: "csv" }),
  "workspaceManagement.workspace.getCurrent": () => api.workspaceManagement.workspace.getCurrent(),
  "workspaceManagement.user.getCurrent": () => api.workspaceManagement.user.getCurrent(),
  "userManagement.user.getCurrent": () => api.userManagement.user.getCurrent(),
  "orchestration.run.list.recent": () =>
    o.run.list({ workflowUuid: cfg.workflowUuid, createdAfter: recent, statuses: ["error"], limit: 3 }),
};

const anonymous = buildApi({ baseUrl: cfg.baseUrl, accessToken: undefined });
const errors = {
  notFound: () => o.run.get(cfg.unknownUuid),
  invalidBody: () => o.run.count({ workflowUuid: cfg.workflowUuid, statuses: ["finished"] }),
  unknownKey: () => o.run.count({ workflowUuid: cfg.workflowUuid, colour: "blue" }),
  missingToken: () => anonymous.orchestration.run.count({ workflowUuid: cfg.workflowUuid }),
};

const describe = (e) => ({
  className: e?.constructor?.name ?? typeof e,
  type: e?.type,
  reason: e?.reason,
  status: e?.status,
  message: e?.message,
});

const out = { calls: {}, errors: {} };
for (const [name, call] of Object.entries(calls)) {
  try {
    out.calls[name] = { ok: true, result: await call() };
  } catch (e) {
    out.calls[name] = { ok: false, error: describe(e) };
  }
}
for (const [name, call] of Object.entries(errors)) {
  try {
    out.errors[name] = { threw: false, result: await call() };
  } catch (e) {
    out.errors[name] = { threw: true, ...describe(e) };
  }
}
process.stdout.write(JSON.stringify(out));
