/** The fake Slack for adapter and gateway tests; see fake-slack.ts for what it serves and records. */
export * from './fake-slack.js';
