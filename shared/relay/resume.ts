/**
 * Resume: a client that reconnects with its `conversation_id` (after an edge time limit, a restart,
 * `session_expired`, a dropped network) gets a new upstream session seeded with the conversation's
 * earlier turns, so the agent remembers what was said.
 *
 * @module
 */
import type { RecentMessage } from "../storage/store.ts";

/** Roughly four characters per token for English text; the budget is an estimate, not a tokenizer. */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

/**
 * Picks the turns to seed: newest first until `budgetTokens` is spent, returned oldest first (the
 * order they are replayed in). Roles other than user and assistant are skipped.
 */
export function selectHistory(newestFirst: readonly RecentMessage[], budgetTokens: number): RecentMessage[] {
  const picked: RecentMessage[] = [];
  let spent = 0;
  for (const message of newestFirst) {
    if (message.role !== "user" && message.role !== "assistant") continue;
    if (message.content.trim() === "") continue;
    const cost = estimateTokens(message.content);
    if (spent + cost > budgetTokens) break;
    spent += cost;
    picked.push(message);
  }
  return picked.reverse();
}

/** The `conversation.item.create` events (GA shapes) that replay `history` upstream, in order. */
export function historyItemEvents(history: readonly RecentMessage[], eventIdPrefix: string): string[] {
  return history.map((message, index) =>
    JSON.stringify({
      type: "conversation.item.create",
      event_id: `${eventIdPrefix}_${index}`,
      item: {
        type: "message",
        role: message.role,
        content: [{ type: message.role === "user" ? "input_text" : "output_text", text: message.content }],
      },
    })
  );
}
