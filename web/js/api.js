// The JSON API under /api/v1. Every call returns parsed JSON or throws an ApiError carrying
// the server's {"error": {"code", "message"}} (or a network failure as code "network").

export const API = '/api/v1';

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

// Whether an error means "this server does not have that endpoint or object".
export function isNotFound(err) {
  return err instanceof ApiError && err.status === 404;
}

export function isAbort(err) {
  return err && err.name === 'AbortError';
}

export async function api(path, {method = 'GET', body, signal} = {}) {
  const init = {method, signal, headers: {Accept: 'application/json'}};
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers['Content-Type'] = 'application/json';
  }
  let res;
  try {
    res = await fetch(API + path, init);
  } catch (err) {
    if (isAbort(err)) throw err;
    throw new ApiError(0, 'network', 'cannot reach the server: ' + err.message);
  }
  if (res.status === 204) return null;
  const text = await res.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      if (res.ok) throw new ApiError(res.status, 'bad_response', 'the server sent something that is not JSON');
    }
  }
  if (!res.ok) {
    const e = data && data.error;
    throw new ApiError(res.status, (e && e.code) || 'http_' + res.status,
                       (e && e.message) || res.status + ' ' + res.statusText);
  }
  return data;
}

// Path segment helpers: names may contain '/', '?', '#' or spaces.
export const seg = encodeURIComponent;
