/**
 * The Dockerfile (`server/deploy/Dockerfile`). No Docker engine runs here (CI neither), so the image
 * is assembled the way the Dockerfile says, minus Docker: its COPY instructions (filtered by
 * `Dockerfile.dockerignore`) into a fresh directory, `node_modules` from the same lockfile standing in
 * for `npm ci`, its build-time Deno step, its ENV, then its CMD run for real, its HEALTHCHECK command
 * run against it, a session through it, and its STOPSIGNAL sent: the relay must drain and exit 0.
 * Not covered: the base image itself, file ownership and `USER node`.
 */
import assert from "node:assert/strict";
import { cp, mkdir, readFile, symlink } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { mintLocalToken } from "../token.ts";
import { launchRelay } from "./testing/launched_relay.ts";
import { freePort } from "./testing/nginx_process.ts";

const root = fileURLToPath(new URL("../../", import.meta.url));
const dockerfilePath = fileURLToPath(new URL("./Dockerfile", import.meta.url));

/** One Dockerfile instruction, continuation lines joined. */
interface Instruction {
  op: string;
  args: string;
}

/** Parses the instructions (comments and blank lines dropped, `\` continuations joined). */
function parseDockerfile(text: string): Instruction[] {
  const instructions: Instruction[] = [];
  let pending = "";
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (pending === "" && (line === "" || line.startsWith("#"))) continue;
    if (line.endsWith("\\")) {
      pending += line.slice(0, -1) + " ";
      continue;
    }
    const full = (pending + line).trim();
    pending = "";
    const space = full.indexOf(" ");
    instructions.push({ op: full.slice(0, space).toUpperCase(), args: full.slice(space + 1).trim() });
  }
  return instructions;
}

/** `.dockerignore` patterns as regular expressions over paths relative to the context. */
function ignoreMatchers(text: string): RegExp[] {
  return text.split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("#")).map((pattern) => {
    const source = pattern.replace(/[.+^${}()|[\]]/g, "\\$&")
      .replace(/\*\*\//g, "<globstar>")
      .replace(/\*/g, "[^/]*")
      .replace(/\?/g, "[^/]")
      .replace(/<globstar>/g, "(?:.*/)?");
    // A pattern that names a directory excludes what is in it.
    return new RegExp(`^${source}(?:/.*)?$`);
  });
}

const instructions = parseDockerfile(await readFile(dockerfilePath, "utf8"));
const deno = JSON.parse(await readFile(join(root, "deno.json"), "utf8")) as { tasks: Record<string, string> };
const packageJson = JSON.parse(await readFile(join(root, "package.json"), "utf8")) as {
  engines: { node: string };
  devDependencies: Record<string, string>;
};

Deno.test("the Dockerfile builds on Node 20 with npm ci, copies what exists, and runs the README's task", () => {
  const ops = instructions.map((i) => i.op);
  assert.equal(instructions[0].op, "FROM");
  assert.equal(instructions[0].args, "node:20-slim");
  assert.equal(packageJson.engines.node, ">=20", "the base image's Node satisfies package.json");
  assert.ok(packageJson.devDependencies.deno, "Deno comes from npm (package.json pins it)");
  const npmCi = instructions.findIndex((i) => i.op === "RUN" && /\bnpm ci\b/.test(i.args));
  assert.ok(npmCi > 0, "RUN npm ci");
  const copies = instructions.filter((i) => i.op === "COPY");
  for (const copy of copies) {
    for (const source of copy.args.split(/\s+/).slice(0, -1)) {
      assert.ok(Deno.statSync(join(root, source)), `COPY ${source} exists`);
    }
  }
  assert.ok(
    copies.findIndex((c) => c.args.startsWith("package.json")) < ops.indexOf("RUN"),
    "lockfile copied before npm ci",
  );
  assert.equal(instructions.find((i) => i.op === "STOPSIGNAL")?.args, "SIGTERM");
  const cmd = JSON.parse(instructions.find((i) => i.op === "CMD")!.args) as string[];
  assert.deepEqual(
    cmd,
    ["node_modules/.bin/deno", "task", "start"],
    "the README's `deno task start`, without npx",
  );
  assert.ok(deno.tasks.start, "deno.json has the start task");
  const healthcheck = instructions.find((i) => i.op === "HEALTHCHECK")!.args;
  assert.match(healthcheck, /CMD \[/);
  assert.match(healthcheck, /\/health/);
  assert.ok(instructions.some((i) => i.op === "USER" && i.args !== "root"), "runs as a non-root user");
});

Deno.test({
  name:
    "the image as the Dockerfile assembles it: CMD serves, HEALTHCHECK passes, STOPSIGNAL drains to exit 0",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    // Assemble /app.
    const image = await Deno.makeTempDir({ prefix: "relay-image-" });
    const app = join(image, "app");
    await mkdir(app);
    const ignored = ignoreMatchers(
      await readFile(join(dirname(dockerfilePath), "Dockerfile.dockerignore"), "utf8"),
    );
    const skip = (path: string) => ignored.some((pattern) => pattern.test(relative(root, path)));
    for (const copy of instructions.filter((i) => i.op === "COPY")) {
      const words = copy.args.split(/\s+/);
      const destination = words.at(-1)!;
      for (const source of words.slice(0, -1)) {
        const target = destination.endsWith("/") && words.length === 2 && source.endsWith("/")
          ? join(app, destination)
          : join(app, destination, source.endsWith("/") ? "" : source.split("/").at(-1)!);
        await cp(join(root, source), target, {
          recursive: true,
          filter: (path) => !skip(path),
        });
      }
    }
    // `npm ci` from the same package-lock.json: the dependencies this checkout already installed.
    await symlink(join(root, "node_modules"), join(app, "node_modules"));
    for (const file of ["server/main.ts", "supabase/migrations", "client/voice_client.ts", "deno.json"]) {
      assert.ok(Deno.statSync(join(app, file)), `the image has ${file}`);
    }
    assert.throws(() => Deno.statSync(join(app, "server/main_test.ts")), "tests stay out of the image");

    // ENV, with what `docker run -e` would change for this machine: a free loopback port, writable dirs.
    const env: Record<string, string> = {};
    for (const instruction of instructions.filter((i) => i.op === "ENV")) {
      for (const match of instruction.args.matchAll(/(\w+)=(\S+)/g)) env[match[1]] = match[2];
    }
    assert.equal(env.PORT, "8080");
    const port = await freePort();
    Object.assign(env, {
      PORT: String(port),
      HOST: "127.0.0.1",
      RELAY_DATA_DIR: join(image, "data"),
      DENO_DIR: join(image, "deno-cache"),
      HOME: image,
    });

    // The build's Deno step (the rest of that RUN makes /data and /deno-cache, replaced above).
    const build = instructions.find((i) => i.op === "RUN" && i.args.startsWith("node_modules/.bin/deno"))!;
    const step = build.args.split("&&")[0].trim().split(/\s+/);
    const built = await new Deno.Command(join(app, step[0]), {
      args: step.slice(1),
      cwd: app,
      env,
      stdout: "piped",
      stderr: "piped",
    })
      .output();
    assert.equal(built.code, 0, new TextDecoder().decode(built.stderr));

    const cmd = JSON.parse(instructions.find((i) => i.op === "CMD")!.args) as string[];
    const relay = await launchRelay(
      [cmd[0].includes("/") ? join(app, cmd[0]) : cmd[0], ...cmd.slice(1)],
      app,
      env,
    );
    try {
      assert.equal(relay.port, port);
      assert.ok(
        relay.logs.some((l) => l.includes('"event":"SIMULATED_UPSTREAM"')),
        "zero config: says it is simulated",
      );

      const healthcheck = JSON.parse(
        instructions.find((i) => i.op === "HEALTHCHECK")!.args.replace(/^.*?CMD /, ""),
      ) as string[];
      const probe = await new Deno.Command(healthcheck[0], {
        args: healthcheck.slice(1),
        env: { PORT: String(port) },
      }).output();
      assert.equal(probe.code, 0, "HEALTHCHECK passes on a healthy relay");

      const page = await fetch(`http://127.0.0.1:${port}/`);
      assert.equal(page.status, 200);
      await page.body?.cancel();
      const bundle = await fetch(`http://127.0.0.1:${port}/demo/client.js`);
      assert.equal(bundle.status, 200, "the demo page's client builds from the copied client/");
      await bundle.body?.cancel();

      const token = await mintLocalToken({ RELAY_DATA_DIR: env.RELAY_DATA_DIR });
      const socket = new WebSocket(`ws://127.0.0.1:${port}/v1/realtime`, [
        "realtime",
        `openai-insecure-api-key.${token}`,
      ]);
      const events: string[] = [];
      const closed = new Promise<number>((resolve) => (socket.onclose = (e) => resolve(e.code)));
      const created = new Promise<void>((resolve) => {
        socket.onmessage = (e) => {
          const type = JSON.parse(String(e.data)).type as string;
          events.push(type);
          if (type === "session.created") resolve();
        };
      });
      await Promise.race([
        created,
        closed.then((code) => assert.fail(`session closed with ${code}: ${events}`)),
      ]);

      relay.signal(instructions.find((i) => i.op === "STOPSIGNAL")!.args as Deno.Signal);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const code = await Promise.race([
        closed,
        new Promise<string>((resolve) =>
          timer = setTimeout(() => resolve("still open 20 s after the signal"), 20_000)
        ),
      ]);
      clearTimeout(timer);
      assert.equal(code, 1012, "the session is closed for a restart (the signal reached the relay)");
      assert.ok(events.includes("relay.draining"), "the client was told first");
      assert.equal(await relay.exited, 0);
      assert.ok(
        relay.logs.some((l) => l.includes('"event":"stopped"')),
        "the relay itself got the signal and stopped",
      );
    } finally {
      relay.kill();
      await relay.exited;
      await Deno.remove(image, { recursive: true });
    }
  },
});
