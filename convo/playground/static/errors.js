// The error box: what went wrong with a request, in the page's language.
import { t } from "./i18n.js";
import { $, el } from "./dom.js";
import { state } from "./state.js";

export function clearError() {
  state.lastError = null;
  $("error").hidden = true;
  $("error").replaceChildren();
}

export function showError(kind, detail = {}) {
  state.lastError = [kind, detail];
  const box = $("error");
  const lines = [];
  if (kind === "status") {
    const known = [401, 429, 500, 503].includes(detail.status);
    lines.push(known ? t(`error.${detail.status}`) : t("error.other", { status: detail.status }));
    if (detail.status === 429 && detail.retryAfter) lines.push(t("error.retry_after", { s: detail.retryAfter }));
    if (detail.message) lines.push(detail.message);
  } else if (kind === "network") lines.push(t("error.network"));
  else if (kind === "invalid") lines.push(t("error.invalid", { n: state.problems.length }));
  else if (kind === "stream") lines.push(t("error.stream", { m: detail.message }));
  else if (kind === "stopped") lines.push(t("stopped"));
  box.dataset.kind = kind;
  if (detail.status) box.dataset.status = String(detail.status);
  box.replaceChildren(...lines.map((line) => el("p", { text: line })));
  box.hidden = false;
}

export async function errorMessage(response) {
  const text = await response.text();
  try {
    const body = JSON.parse(text);
    return String(body?.error?.message ?? body?.detail ?? body?.message ?? text);
  } catch {
    return text.slice(0, 500);
  }
}
