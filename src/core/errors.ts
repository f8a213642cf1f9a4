/**
 * The gateway's error registry lives in `src/errors.ts`, beside the logger, because every part raises
 * coded errors (the bus, the engines, adapters, config, admin). Core modules import it through here.
 */
export * from '../errors.js';
