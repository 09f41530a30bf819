/**
 * `npm start` — the local runtime (embedded SQS and DynamoDB emulators, Lambda-like pollers, the
 * local API and dashboard) arrives with the local runtime issue. Until then this says so and exits.
 */
console.error('npm start: the local runtime arrives with the local runtime issue (#3). Today: `npm test` runs the handlers against embedded emulators, and `npm run synth` builds the AWS stack.');
process.exitCode = 1;
