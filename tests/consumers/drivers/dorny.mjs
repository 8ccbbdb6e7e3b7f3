// Runs dorny/test-reporter's own java-junit parser, report and annotation code (from its TypeScript sources,
// under tsx) on one JUnit file, and writes what it produced to OUT.json. Usage, from the workspace folder:
//   tsx dorny.mjs OUT.json SOURCES/test-reporter REPORT [TRACKED_FILE...]
// main.ts's calls are reproduced: parseErrors and trackedFiles as with max-annotations > 0, every annotation
// (the action allows at most 50), the check run's Markdown with list-suites/list-tests 'all'.
import * as fs from 'fs'
import * as path from 'path'
import {pathToFileURL} from 'url'

const [out, src, report, ...trackedFiles] = process.argv.slice(2)
const load = rel => import(pathToFileURL(path.join(src, 'src', rel)).href)
const {JavaJunitParser} = await load('parsers/java-junit/java-junit-parser.ts')
const {getAnnotations} = await load('report/get-annotations.ts')
const {getReport, DEFAULT_OPTIONS} = await load('report/get-report.ts')

const parser = new JavaJunitParser({parseErrors: true, workDir: process.cwd() + '/', trackedFiles})
const result = await parser.parse(report, fs.readFileSync(report, 'utf8'))
const tests = result.suites.flatMap(s => s.groups.flatMap(g => g.tests.map(t => ({
  suite: s.name, group: g.name, name: t.name, result: t.result, error: t.error ?? null
}))))
const annotations = getAnnotations([result], 50)
const markdown = getReport([result], {...DEFAULT_OPTIONS, useActionsSummary: true})
const counts = {passed: result.passed, failed: result.failed, skipped: result.skipped}
fs.writeFileSync(out, JSON.stringify({counts, tests, annotations, markdown}, null, 1))  // @actions/core logs on stdout
