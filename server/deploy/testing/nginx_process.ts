/**
 * Test support: runs the shipped nginx site (`server/deploy/nginx/realtime-voice.conf`) for real, as a
 * child process in a throwaway prefix, with a throwaway TLS certificate. The site is rendered by
 * substituting its documented placeholders (ports, certificate and log paths), so tests exercise the
 * file operators install, not a copy of it.
 *
 * @module
 */
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** The shipped site. */
export const shippedSitePath = fileURLToPath(new URL("../nginx/realtime-voice.conf", import.meta.url));

/** The public name the shipped site is written for (and the test certificate is issued to). */
export const placeholderDomain = "voice.example.com";

/** Where the rendered site sends traffic and keeps its files. */
export interface SiteRendering {
  /** Loopback ports of the relay instances, in the upstream's order. */
  relayPorts: number[];
  httpsPort: number;
  httpPort: number;
  certificatePath: string;
  keyPath: string;
  /** Directory for the site's access and error logs. */
  logDir: string;
  acmeWebroot: string;
}

/** One placeholder substitution; `count` is how often it must occur outside comments. */
interface Substitution {
  from: string;
  /** The replacement; `null` drops the whole line (the IPv6 listeners: tests stay on 127.0.0.1). */
  to: string | null;
  count: number;
}

/**
 * The shipped site with its placeholders replaced (comments are left alone). Throws when a
 * placeholder occurs a different number of times than the site documents, so an edit to the site that
 * the rendering would silently miss fails the tests instead.
 */
export function renderSite(shipped: string, site: SiteRendering): string {
  if (site.relayPorts.length !== 2) {
    throw new Error(`the shipped upstream has 2 instances; got ${site.relayPorts.length} ports`);
  }
  const certDir = `/etc/letsencrypt/live/${placeholderDomain}`;
  const substitutions: Substitution[] = [
    { from: "127.0.0.1:8081", to: `127.0.0.1:${site.relayPorts[0]}`, count: 1 },
    { from: "127.0.0.1:8082", to: `127.0.0.1:${site.relayPorts[1]}`, count: 1 },
    { from: "listen 443 ssl;", to: `listen 127.0.0.1:${site.httpsPort} ssl;`, count: 1 },
    { from: "listen [::]:443 ssl;", to: null, count: 1 },
    { from: "listen 80;", to: `listen 127.0.0.1:${site.httpPort};`, count: 1 },
    { from: "listen [::]:80;", to: null, count: 1 },
    { from: `${certDir}/fullchain.pem`, to: site.certificatePath, count: 1 },
    { from: `${certDir}/privkey.pem`, to: site.keyPath, count: 1 },
    { from: "/var/log/nginx/realtime-voice.access.log", to: join(site.logDir, "access.log"), count: 2 },
    { from: "/var/log/nginx/realtime-voice.error.log", to: join(site.logDir, "error.log"), count: 3 },
    { from: "/var/www/letsencrypt", to: site.acmeWebroot, count: 1 },
  ];
  const found = new Map<Substitution, number>(substitutions.map((s) => [s, 0]));
  const lines: string[] = [];
  for (const line of shipped.split("\n")) {
    if (line.trimStart().startsWith("#")) {
      lines.push(line);
      continue;
    }
    let rendered: string | null = line;
    for (const substitution of substitutions) {
      if (rendered === null) break;
      const occurrences = rendered.split(substitution.from).length - 1;
      if (occurrences === 0) continue;
      found.set(substitution, found.get(substitution)! + occurrences);
      rendered = substitution.to === null ? null : rendered.replaceAll(substitution.from, substitution.to);
    }
    if (rendered !== null) lines.push(rendered);
  }
  for (const [substitution, count] of found) {
    if (count !== substitution.count) {
      throw new Error(
        `shipped nginx site: expected ${substitution.count} occurrence(s) of ${
          JSON.stringify(substitution.from)
        } ` +
          `outside comments, found ${count}`,
      );
    }
  }
  const result = lines.join("\n");
  // Nothing outside comments may still point at a production path or port.
  const leftover = result.split("\n").filter((line) =>
    !line.trimStart().startsWith("#") &&
    /\/etc\/letsencrypt|\/var\/log\/nginx|\/var\/www|:808[12]\b|\b443\b/.test(line)
  );
  if (leftover.length > 0) {
    throw new Error(`unrendered production paths in the site:\n${leftover.join("\n")}`);
  }
  return result;
}

/** The main nginx.conf around the site: what Debian's nginx.conf provides, confined to `prefix`. */
export function wrapperConfig(prefix: string, sitePath: string, runAsRoot: boolean): string {
  return [
    // nginx drops its workers to this user when started as root (Debian's nginx.conf says www-data too).
    runAsRoot ? "user www-data;" : "",
    "worker_processes 1;",
    `pid ${join(prefix, "nginx.pid")};`,
    `error_log ${join(prefix, "main-error.log")} warn;`,
    "events { worker_connections 512; }",
    "http {",
    `  client_body_temp_path ${join(prefix, "client_body")};`,
    `  proxy_temp_path ${join(prefix, "proxy")};`,
    `  fastcgi_temp_path ${join(prefix, "fastcgi")};`,
    `  uwsgi_temp_path ${join(prefix, "uwsgi")};`,
    `  scgi_temp_path ${join(prefix, "scgi")};`,
    `  access_log ${join(prefix, "main-access.log")};`,
    "  default_type application/octet-stream;",
    `  include ${sitePath};`,
    "}",
    "",
  ].join("\n");
}

/** A free loopback TCP port (bound and released; the caller binds it next). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

async function run(command: string, args: string[]): Promise<{ code: number; output: string }> {
  const result = await new Deno.Command(command, { args, stdout: "piped", stderr: "piped" }).output();
  const decoder = new TextDecoder();
  return { code: result.code, output: decoder.decode(result.stdout) + decoder.decode(result.stderr) };
}

/** A throwaway certificate for {@link placeholderDomain} and 127.0.0.1, issued by a throwaway CA. */
export interface TestCertificate {
  /** The server certificate followed by the CA (what certbot's fullchain.pem holds). */
  certificatePath: string;
  keyPath: string;
  /** The CA certificate in PEM: clients trust it as their only CA. */
  pem: string;
}

async function openssl(args: string[]): Promise<void> {
  const { code, output } = await run("openssl", args);
  if (code !== 0) throw new Error(`openssl ${args[0]} failed (exit ${code}):\n${output}`);
}

/**
 * Makes a CA and a server certificate it signs (EC P-256, a day long, SANs for the domain and
 * 127.0.0.1). A CA of its own because rustls, rightly, refuses a CA certificate as a server's.
 */
export async function testCertificate(dir: string): Promise<TestCertificate> {
  const path = (name: string) => join(dir, name);
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  await openssl([
    "req",
    "-x509",
    ...ec,
    "-days",
    "1",
    "-subj",
    "/CN=relay test CA",
    "-keyout",
    path("ca.key"),
    "-out",
    path("ca.pem"),
  ]);
  await openssl([
    "req",
    ...ec,
    "-subj",
    `/CN=${placeholderDomain}`,
    "-keyout",
    path("privkey.pem"),
    "-out",
    path("server.csr"),
  ]);
  await writeFile(
    path("server.ext"),
    `basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n` +
      `subjectAltName=DNS:${placeholderDomain},IP:127.0.0.1\n`,
  );
  await openssl([
    "x509",
    "-req",
    "-in",
    path("server.csr"),
    "-CA",
    path("ca.pem"),
    "-CAkey",
    path("ca.key"),
    "-CAcreateserial",
    "-days",
    "1",
    "-extfile",
    path("server.ext"),
    "-out",
    path("cert.pem"),
  ]);
  const ca = await readFile(path("ca.pem"), "utf8");
  await writeFile(path("fullchain.pem"), (await readFile(path("cert.pem"), "utf8")) + ca);
  return { certificatePath: path("fullchain.pem"), keyPath: path("privkey.pem"), pem: ca };
}

/** The nginx binary: on PATH or Debian's /usr/sbin/nginx. */
export function nginxBinary(): string {
  for (const candidate of ["/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/bin/nginx"]) {
    try {
      if (Deno.statSync(candidate).isFile) return candidate;
    } catch { /* next */ }
  }
  throw new Error("nginx not found: install Debian's nginx (`apt-get install nginx`; .ci/run does)");
}

/** A prepared (rendered, not yet started) nginx. */
export interface PreparedNginx {
  prefix: string;
  configPath: string;
  site: SiteRendering;
  certificate: TestCertificate;
  /** `https://127.0.0.1:PORT` */
  httpsBase: string;
  /** `wss://127.0.0.1:PORT` */
  wssBase: string;
  /** `http://127.0.0.1:PORT` (the plain-HTTP server: ACME and redirects) */
  httpBase: string;
}

/** Renders the shipped site for `relayPorts` into a new temporary prefix with a fresh certificate. */
export async function prepareNginx(relayPorts: number[]): Promise<PreparedNginx> {
  const prefix = await Deno.makeTempDir({ prefix: "relay-nginx-" });
  // Workers run as www-data and must reach the temp directories under the prefix.
  await chmod(prefix, 0o755);
  const logDir = join(prefix, "logs");
  const acmeWebroot = join(prefix, "acme");
  await mkdir(logDir);
  await mkdir(join(acmeWebroot, ".well-known", "acme-challenge"), { recursive: true });
  const certificate = await testCertificate(prefix);
  const site: SiteRendering = {
    relayPorts,
    httpsPort: await freePort(),
    httpPort: await freePort(),
    certificatePath: certificate.certificatePath,
    keyPath: certificate.keyPath,
    logDir,
    acmeWebroot,
  };
  const sitePath = join(prefix, "realtime-voice.conf");
  await writeFile(sitePath, renderSite(await readFile(shippedSitePath, "utf8"), site));
  const configPath = join(prefix, "nginx.conf");
  await writeFile(configPath, wrapperConfig(prefix, sitePath, Deno.uid() === 0));
  return {
    prefix,
    configPath,
    site,
    certificate,
    httpsBase: `https://127.0.0.1:${site.httpsPort}`,
    wssBase: `wss://127.0.0.1:${site.httpsPort}`,
    httpBase: `http://127.0.0.1:${site.httpPort}`,
  };
}

/** `nginx -t` on the prepared configuration: exit code and what nginx printed. */
export function testNginxConfig(prepared: PreparedNginx): Promise<{ code: number; output: string }> {
  return run(nginxBinary(), [
    "-t",
    "-p",
    prepared.prefix,
    "-e",
    join(prepared.prefix, "main-error.log"),
    "-c",
    prepared.configPath,
  ]);
}

/** A running nginx. */
export interface NginxProcess extends PreparedNginx {
  /** The site's access log so far. */
  accessLog(): Promise<string>;
  /** The site's error log so far (plus nginx's main error log). */
  errorLog(): Promise<string>;
  /** Stops nginx (SIGTERM: fast shutdown), waits for it to exit, and removes its prefix. */
  stop(): Promise<void>;
}

async function readOrEmpty(path: string): Promise<string> {
  return await readFile(path, "utf8").catch(() => "");
}

/** Starts nginx in the foreground on the prepared configuration and waits until it answers. */
export async function startNginx(prepared: PreparedNginx): Promise<NginxProcess> {
  const child = new Deno.Command(nginxBinary(), {
    args: [
      "-p",
      prepared.prefix,
      "-e",
      join(prepared.prefix, "main-error.log"),
      "-c",
      prepared.configPath,
      "-g",
      "daemon off;",
    ],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    return s;
  });
  const logs = {
    accessLog: () => readOrEmpty(join(prepared.site.logDir, "access.log")),
    errorLog: async () =>
      (await readOrEmpty(join(prepared.site.logDir, "error.log"))) +
      (await readOrEmpty(join(prepared.prefix, "main-error.log"))),
  };
  // Ready when the plain-HTTP server answers (the redirect needs no upstream).
  for (let attempt = 0; attempt < 100; attempt++) {
    if (exited) break;
    try {
      const response = await fetch(`${prepared.httpBase}/`, { redirect: "manual" });
      await response.body?.cancel();
      if (response.status === 301) {
        return {
          ...prepared,
          ...logs,
          async stop() {
            if (!exited) {
              try {
                child.kill("SIGTERM");
              } catch { /* already gone */ }
            }
            await status;
            await stderr;
            await Deno.remove(prepared.prefix, { recursive: true }).catch(() => {});
          },
        };
      }
    } catch { /* not listening yet */ }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  if (!exited) child.kill("SIGKILL");
  const { code } = await status;
  throw new Error(`nginx did not start (exit ${code}):\n${await stderr}\n${await logs.errorLog()}`);
}
