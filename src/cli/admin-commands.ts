import type { Command } from 'commander';

/** Admin commands (stats, cancel, stop, resume, clear, settings) talk to a running gateway's API. */
export function registerAdminCommands(_program: Command): void {
  // Filled in with the admin API.
}
