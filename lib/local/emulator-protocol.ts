/** What the runtime and the emulator process agree on, beyond the AWS APIs themselves. */

/** GET on the SQS emulator: `{ "<queue name>": <send time of its oldest message, epoch ms> | null }`. */
export const QUEUE_AGES_PATH = '/_conveyor/oldest-messages';
