import type { FunctionContext } from '@infralogs/core';

/** What a handler answered through its context (status, headers, body), for handler tests. */
export interface RecordedAnswer {
  status: number;
  headers: Record<string, string>;
  body?: unknown;
}

/**
 * The handler contract as the template's wrapper implements it (status/headers getters and
 * chaining setters, succeed, fail → 500), recording the answer instead of sending it.
 */
export function recordingContext(): { context: FunctionContext; answer: RecordedAnswer } {
  const answer: RecordedAnswer = { status: 200, headers: {} };
  const ctx = {
    status(code?: number) {
      if (code === undefined) return answer.status;
      answer.status = code;
      return ctx;
    },
    headers(value?: Record<string, string>) {
      if (value === undefined) return answer.headers;
      answer.headers = value;
      return ctx;
    },
    succeed(value: unknown) {
      answer.body = value;
    },
    fail(value: unknown) {
      answer.body = value;
      answer.status = 500;
    },
  };
  return { context: ctx as unknown as FunctionContext, answer };
}
