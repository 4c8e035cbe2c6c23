// Reads the keylens HTTP API (docs/http.md). The browser's key, when the server needs one, travels
// as the keylens_key cookie that the key form sets; the server accepts it for reads only.

export class ApiError extends Error {
  constructor(status, message, param) {
    super(message);
    this.status = status;
    this.param = param;
  }
}

// GET path?params: params is an object whose array values become repeated parameters
// (where=model:a&where=tier:b). Resolves to the JSON body, or throws an ApiError in words.
export async function get(path, params = {}) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === "") continue;
    for (const one of Array.isArray(v) ? v : [v]) q.append(k, one);
  }
  const url = q.toString() ? `${path}?${q}` : path;
  let response;
  try {
    response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
  } catch (e) {
    throw new ApiError(0, "the server cannot be reached; is keylens still running?");
  }
  let body = null;
  try {
    body = await response.json();
  } catch (e) {
    body = null;
  }
  if (!response.ok) {
    const message = body && body.error ? body.error : `the server answered ${response.status} ${response.statusText}`;
    throw new ApiError(response.status, message, body && body.param);
  }
  return body;
}

export const metric = (name, params) => get(`/v1/metrics/${encodeURIComponent(name)}`, params);
export const license = (id) => get(`/v1/licenses/${encodeURIComponent(id)}`);
export const dimensions = () => get("/v1/dimensions");

// Stores the key for this site only (SameSite=Strict, sent back to this server alone).
export function setKey(key) {
  const secure = location.protocol === "https:" ? "; Secure" : "";
  document.cookie = `keylens_key=${key}; path=/; SameSite=Strict${secure}`;
}
