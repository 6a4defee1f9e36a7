/**
 * Operator CLI: `npm run admin -- <command> [options]`, `npm run admin -- --help` for the
 * commands, `npm run admin -- <command> --help` for one. The same code acts on a deployed
 * stage (tables and queues named after it, credentials and region from the usual AWS
 * chain) and on the local stack (`--local`, while `npm start` runs). docs/operations.md
 * describes it for operators.
 */
import { runCli } from './admin/cli.js';
import { program } from './admin/program.js';

process.exitCode = await runCli(program, process.argv.slice(2));
