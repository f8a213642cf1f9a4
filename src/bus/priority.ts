/**
 * Consumer priority levels, as in OctoBot's `ChannelConsumerPriorityLevels`: a lower number is more
 * important. HIGH and MEDIUM consumers keep a channel's producers running; OPTIONAL ones (metrics,
 * the dashboard stream, logs) do not, and in synchronized mode they are drained last.
 */
export const Priority = {
  HIGH: 1,
  MEDIUM: 2,
  OPTIONAL: 3,
} as const;

export type Priority = (typeof Priority)[keyof typeof Priority];

/** All levels, most important first: the order a synchronized producer drains consumers in. */
export const PRIORITY_ORDER: readonly Priority[] = [Priority.HIGH, Priority.MEDIUM, Priority.OPTIONAL];

/** true when a consumer at this level is a reason for the channel's producers to run. */
export function keepsProducersRunning(priority: Priority): boolean {
  return priority < Priority.OPTIONAL;
}

/** `HIGH` / `MEDIUM` / `OPTIONAL`, for logs and stats. */
export function priorityName(priority: Priority): keyof typeof Priority {
  return priority === Priority.HIGH ? 'HIGH' : priority === Priority.MEDIUM ? 'MEDIUM' : 'OPTIONAL';
}
