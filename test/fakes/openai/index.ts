/** The fake OpenAI-compatible server; see fake-openai.ts for what it serves and records. */
export * from './fake-openai.js';
