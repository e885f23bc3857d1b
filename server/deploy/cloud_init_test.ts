/**
 * The DigitalOcean user-data (`server/deploy/cloud-init/user-data.yaml`). No droplet boots here, so:
 * it is valid YAML (Debian's python3-yaml) and, where Debian's cloud-init is installed, valid against
 * cloud-init's own schema; its relay configuration passes the relay's own validation; its deploy
 * script is valid bash and installs the files this repository ships, the Deno that package.json pins,
 * nginx, certbot, the firewall rules and the instances the nginx site lists. Not covered: running it.
 */
import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { envSchema, loadConfig } from "../../shared/config.ts";
import { placeholderDomain, shippedSitePath } from "./testing/nginx_process.ts";

const root = fileURLToPath(new URL("../../", import.meta.url));
const userDataPath = fileURLToPath(new URL("./cloud-init/user-data.yaml", import.meta.url));
const userData = await readFile(userDataPath, "utf8");

type WriteFile = { path: string; content: string; permissions?: string; owner?: string };
type CloudConfig = {
  packages: string[];
  users: Array<string | { name: string; system?: boolean; shell?: string }>;
  write_files: WriteFile[];
  runcmd: Array<string | string[]>;
};

/** Debian's python3 (where Debian's python3-yaml installs), else whatever python3 is on PATH. */
const python = (() => {
  try {
    return Deno.statSync("/usr/bin/python3").isFile ? "/usr/bin/python3" : "python3";
  } catch {
    return "python3";
  }
})();

/** The YAML parsed by PyYAML (Debian's python3-yaml: what cloud-init itself parses with). */
async function parseYaml(text: string): Promise<CloudConfig> {
  let result: Deno.CommandOutput;
  try {
    const child = new Deno.Command(python, {
      args: ["-c", "import json, sys, yaml; print(json.dumps(yaml.safe_load(sys.stdin)))"],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(text));
    await writer.close();
    result = await child.output();
  } catch (error) {
    throw new Error(`python3 is needed to parse YAML (${error}); install Debian's python3-yaml`);
  }
  const stderr = new TextDecoder().decode(result.stderr);
  if (result.code !== 0) {
    throw new Error(
      stderr.includes("No module named 'yaml'")
        ? "python3 has no yaml module: install Debian's python3-yaml (.ci/run does)"
        : `the user-data is not valid YAML:\n${stderr}`,
    );
  }
  return JSON.parse(new TextDecoder().decode(result.stdout)) as CloudConfig;
}

/** KEY=value lines (comments and blanks skipped; surrounding double quotes dropped, as bash would). */
function envLines(content: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of content.split("\n")) {
    const trimmed = line.trim();
    if (trimmed === "" || trimmed.startsWith("#")) continue;
    const eq = trimmed.indexOf("=");
    assert.ok(eq > 0, `not KEY=value: ${trimmed}`);
    env[trimmed.slice(0, eq)] = trimmed.slice(eq + 1).replace(/^"(.*)"$/, "$1");
  }
  return env;
}

const config = await parseYaml(userData);
const file = (path: string) => {
  const found = config.write_files.find((f) => f.path === path);
  assert.ok(found, `write_files has ${path}`);
  return found;
};
const deployScript = file("/usr/local/sbin/realtime-voice-deploy").content;

Deno.test("user-data: cloud-config with nginx, certbot, ufw and the service user the units run as", async () => {
  assert.equal(userData.split("\n")[0], "#cloud-config");
  for (const name of ["nginx", "certbot", "ufw", "git", "curl"]) {
    assert.ok(config.packages.includes(name), `installs ${name}`);
  }
  const user = config.users.find((u) => typeof u === "object" && u.name === "realtime-voice");
  assert.ok(user && typeof user === "object" && user.system === true && user.shell === "/usr/sbin/nologin");
  const unit = await readFile(join(root, "server/deploy/systemd/realtime-voice@.service"), "utf8");
  assert.match(unit, /^User=realtime-voice$/m);
  assert.deepEqual(config.runcmd, [["/usr/local/sbin/realtime-voice-deploy"]]);
  assert.equal(file("/etc/realtime-voice.env").permissions, "0600", "the relay's secrets are root-only");
});

Deno.test("user-data: the relay configuration it writes passes the relay's own validation", () => {
  const env = envLines(file("/etc/realtime-voice.env").content);
  const known = new Set(Object.keys(envSchema.shape));
  for (const key of Object.keys(env)) {
    assert.ok(known.has(key), `${key} is a configuration variable the relay reads`);
  }
  for (const perInstance of ["PORT", "HOST", "RELAY_INSTANCE_ID", "RELAY_DATA_DIR"]) {
    assert.ok(!(perInstance in env), `${perInstance} is the unit's, per instance`);
  }
  const relay = loadConfig(env);
  assert.equal(relay.guard.drainSeconds, 30);
  // Several instances need one shared database (the template unit refuses to start otherwise).
  assert.ok(env.DATABASE_URL || env.SUPABASE_SERVICE_ROLE_KEY, "storage every instance shares");
  assert.ok(Object.values(env).some((v) => v.includes("REPLACE_ME")), "placeholders are marked REPLACE_ME");
});

Deno.test("user-data: the deploy script is valid bash and deploys what this repository ships", async () => {
  const dir = await Deno.makeTempDir({ prefix: "relay-user-data-" });
  try {
    const path = join(dir, "deploy.sh");
    await writeFile(path, deployScript);
    const syntax = await new Deno.Command("bash", { args: ["-n", path], stderr: "piped" }).output();
    assert.equal(syntax.code, 0, new TextDecoder().decode(syntax.stderr));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  assert.ok(deployScript.startsWith("#!/usr/bin/env bash\n"));
  assert.match(deployScript, /^set -euo pipefail$/m);
  // Files it installs from the checkout.
  const referenced = [...deployScript.matchAll(/\$APP_DIR\/([\w./@-]+)/g)].map((m) => m[1]);
  assert.ok(referenced.includes("server/deploy/nginx/realtime-voice.conf"));
  assert.ok(referenced.includes("server/deploy/systemd/realtime-voice@.service"));
  for (const path of referenced) {
    assert.ok(Deno.statSync(join(root, path)), `${path} exists in the repository`);
  }
  // Deno from npm, the version package.json pins, checked after `npm ci`.
  const packageJson = JSON.parse(await readFile(join(root, "package.json"), "utf8"));
  assert.match(packageJson.devDependencies.deno, /^\d+\.\d+\.\d+$/, "package.json pins an exact Deno");
  assert.match(deployScript, /npm ci/);
  assert.match(deployScript, /require\('\.\/package\.json'\)\.devDependencies\.deno/);
  // Firewall: SSH, HTTP, HTTPS, then on.
  for (const rule of ["ufw allow 22/tcp", "ufw allow 80/tcp", "ufw allow 443/tcp", "ufw --force enable"]) {
    assert.ok(deployScript.includes(rule), rule);
  }
  // certbot by webroot into the directory the nginx site serves ACME challenges from, reloading nginx.
  const site = await readFile(shippedSitePath, "utf8");
  assert.match(deployScript, /certbot certonly --webroot -w \/var\/www\/letsencrypt/);
  assert.match(site, /root \/var\/www\/letsencrypt;/);
  assert.match(deployScript, /--deploy-hook "systemctl reload nginx"/);
  assert.ok(
    deployScript.includes(`s/${placeholderDomain.replaceAll(".", "\\.")}/$DOMAIN/g`),
    "the domain placeholder is replaced",
  );
  // The instances it starts are the ones the nginx site sends traffic to.
  const deployEnv = envLines(file("/etc/realtime-voice/deploy.env").content);
  assert.equal(deployEnv.DOMAIN, placeholderDomain);
  const upstream = [...site.matchAll(/^\s*server 127\.0\.0\.1:(\d+)/gm)].map((m) => m[1]);
  assert.deepEqual(deployEnv.INSTANCES.split(" "), upstream);
  assert.match(deployScript, /systemctl enable "realtime-voice@\$port"/);
});

const cloudInit = await new Deno.Command("cloud-init", {
  args: ["--version"],
  stdout: "null",
  stderr: "null",
}).output()
  .then((r) => r.code === 0, () => false);

Deno.test({
  name: "user-data: valid against cloud-init's schema (Debian's cloud-init)",
  ignore: !cloudInit,
  async fn() {
    const result = await new Deno.Command("cloud-init", { args: ["schema", "--config-file", userDataPath] })
      .output();
    const said = new TextDecoder().decode(result.stdout) + new TextDecoder().decode(result.stderr);
    assert.equal(result.code, 0, said);
    assert.match(said, /Valid cloud-config/);
    assert.doesNotMatch(said, /deprecat/i, said);
  },
});
