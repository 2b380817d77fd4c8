// The target's models (GET /models): the model field's suggestions and their context windows.
import { t } from "./i18n.js";
import { $, el } from "./dom.js";
import { SEED_MODEL, state, baseUrl, authHeaders } from "./state.js";
import { changed } from "./render.js";

let modelsTimer;
export async function listModels() {
  const url = `${baseUrl()}/models`;
  try {
    const response = await fetch(url, { headers: authHeaders(), credentials: "omit", referrerPolicy: "no-referrer" });
    if (!response.ok) throw new Error(String(response.status));
    const data = (await response.json()).data || [];
    const ids = data.map((m) => String(m.id));
    state.windows = Object.fromEntries(data.filter((m) => Number.isInteger(m.context_window)).map((m) => [String(m.id), m.context_window]));
    $("models").replaceChildren(...ids.map((id) => el("option", { value: id })));
    $("models-status").textContent = t("models_loaded", { n: ids.length });
    if (ids.length && (state.request.model === SEED_MODEL || !state.request.model)) {
      state.request.model = ids[0];
      changed();
    }
  } catch {
    $("models-status").textContent = t("models_failed", { url });
  }
}

export function scheduleModels() {
  clearTimeout(modelsTimer);
  modelsTimer = setTimeout(listModels, 300);
}
