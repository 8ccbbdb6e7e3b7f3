// Runs mikepenz/action-junit-report's own parser (src/testParser.ts, under tsx) on one JUnit file and writes
// what it produced to OUT.json. Usage, from the workspace folder (GITHUB_WORKSPACE is set to it):
//   tsx mikepenz.mjs OUT.json SOURCES/action-junit-report REPORT
// The arguments are main.ts's defaults (action.yml), except include_passed: true, so that every case gets an
// entry (that is what a detailed_summary table lists); failures are annotated the same either way.
import * as fs from 'fs'
import * as path from 'path'
import {pathToFileURL} from 'url'

const [out, src, report] = process.argv.slice(2)
process.env.GITHUB_WORKSPACE = process.cwd()
const {parseTestReports} = await import(pathToFileURL(path.join(src, 'src', 'testParser.ts')).href)

const result = await parseTestReports(
  'JUnit Test Report', '', report, '',
  true, // includePassed
  false, // annotateNotice
  false, // checkRetries
  ['/build/', '/__pycache__/'], // excludeSources when the input is empty
  undefined, // checkTitleTemplate
  '/', // breadCrumbDelimiter
  '', // testFilesPrefix
  [], // transformers
  false, // followSymlink
  -1, // annotationsLimit
  true, // truncateStackTraces
  false, // failOnParseError
  false // resolveIgnoreClassname
)
const {totalCount, passed, failed, skipped} = result
const annotations = result.globalAnnotations.map(a => ({...a, raw_details: a.raw_details.split('\n', 1)[0]}))
fs.writeFileSync(out, JSON.stringify({counts: {totalCount, passed, failed, skipped}, annotations}, null, 1))  // @actions/core logs on stdout
