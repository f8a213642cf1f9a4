/**
 * Bot API object shapes (https://core.telegram.org/bots/api#available-types) the fake sends and answers:
 * User, Chat, Message (text, photo + caption, media groups, forum topics) and Update.
 */

export interface TgUser {
  id: number;
  is_bot: boolean;
  first_name: string;
  last_name?: string;
  username?: string;
}

export interface TgChat {
  id: number;
  type: 'private' | 'group' | 'supergroup' | 'channel';
  title?: string;
  first_name?: string;
  username?: string;
  /** Supergroups with topics enabled. */
  is_forum?: boolean;
}

export interface TgPhotoSize {
  file_id: string;
  file_unique_id: string;
  width: number;
  height: number;
  file_size?: number;
}

export interface TgMessage {
  message_id: number;
  date: number;
  chat: TgChat;
  from?: TgUser;
  text?: string;
  caption?: string;
  photo?: TgPhotoSize[];
  document?: { file_id: string; file_unique_id: string; file_name?: string; mime_type?: string; file_size?: number };
  media_group_id?: string;
  message_thread_id?: number;
  is_topic_message?: boolean;
  edit_date?: number;
  reply_to_message?: TgMessage;
}

export interface TgUpdate {
  update_id: number;
  message?: TgMessage;
  edited_message?: TgMessage;
  channel_post?: TgMessage;
}

/** The bot the fake plays (getMe). */
export const FAKE_BOT: TgUser = { id: 7_000_000_001, is_bot: true, first_name: 'Batch Bot', username: 'batchgate_test_bot' };
/** A person. */
export const ALICE: TgUser = { id: 1_001, is_bot: false, first_name: 'Alice', username: 'alice' };
export const BOB: TgUser = { id: 1_002, is_bot: false, first_name: 'Bob', last_name: 'Stone' };
/** Another bot in a group (Telegram delivers other bots' messages only in some setups; the adapter must ignore them). */
export const OTHER_BOT: TgUser = { id: 7_000_000_002, is_bot: true, first_name: 'Other Bot', username: 'other_bot' };

/** Alice's private chat with the bot: a private chat's id is the user's id. */
export const PRIVATE_CHAT: TgChat = { id: ALICE.id, type: 'private', first_name: 'Alice', username: 'alice' };
/** A group; group and supergroup ids are negative. */
export const GROUP_CHAT: TgChat = { id: -1_001_234_567_890, type: 'supergroup', title: 'Team' };
/** A supergroup with topics. */
export const FORUM_CHAT: TgChat = { id: -1_009_876_543_210, type: 'supergroup', title: 'Forum', is_forum: true };

/** A photo as Telegram sends it: the same picture in several sizes, the largest last. */
export function photoSizes(tag: string): TgPhotoSize[] {
  return [
    { file_id: `${tag}-small`, file_unique_id: `${tag}-u-s`, width: 90, height: 60, file_size: 1_200 },
    { file_id: `${tag}-large`, file_unique_id: `${tag}-u-l`, width: 1_280, height: 853, file_size: 98_000 },
  ];
}
