/**
 * `deno task test`: type-checks every entry, runs every test file, and ends with the plain
 * `N passed, M failed` line CI reads (Deno's own summary line has another shape).
 *
 * @module
 */

const entries = [
  "server/main.ts",
  "server/node.ts",
  "server/token.ts",
  "supabase/functions/realtime-voice/index.ts",
  "server/demo_page/demo_page.ts",
];

async function run(command: string, args: string[]): Promise<number> {
  const child = new Deno.Command(command, { args, stdout: "inherit", stderr: "inherit" }).spawn();
  return (await child.status).code;
}

/** Counts passed and failed test cases (steps included) in Deno's JUnit report. */
function countJunit(xml: string): { passed: number; failed: number } {
  let passed = 0;
  let failed = 0;
  for (const match of xml.matchAll(/<testcase\b[^>]*?(\/>|>([\s\S]*?)<\/testcase>)/g)) {
    const body = match[2] ?? "";
    if (/<failure\b|<error\b/.test(body)) failed++;
    else if (!/<skipped\b/.test(body)) passed++;
  }
  return { passed, failed };
}

const deno = Deno.execPath();
const filters = Deno.args;
let passed = 0;
let failed = 0;

if (filters.length === 0) {
  const checkCode = await run(deno, ["check", ...entries]);
  if (checkCode === 0) passed++;
  else failed++;
  console.log(`typecheck of entries: ${checkCode === 0 ? "ok" : "FAILED"}`);
}

await Deno.mkdir(".data/test-results", { recursive: true });
const junitPath = ".data/test-results/deno-test.xml";
await Deno.remove(junitPath).catch(() => {});
const testCode = await run(deno, ["test", "-A", `--junit-path=${junitPath}`, ...filters]);
let report = "";
try {
  report = await Deno.readTextFile(junitPath);
} catch {
  console.log("no JUnit report was written: the test run itself failed to start");
}
const counts = countJunit(report);
passed += counts.passed;
failed += counts.failed;
if (testCode !== 0 && counts.failed === 0) failed++;
console.log(`${passed} passed, ${failed} failed`);
Deno.exit(failed === 0 && testCode === 0 ? 0 : 1);
