// The try-it page: takes a photo (file picker, camera, drop or paste), shows it upright, makes
// it smaller in the browser when it is much larger than the model needs, sends it to the API
// and shows the answer or the error in plain words. Plain browser JavaScript, no build step.
/* global document, window, fetch, performance, createImageBitmap, AbortController */

const IDENTIFY_URL = '/v1/identify?top=5';
const MODELS_URL = '/v1/models';

/**
 * Above these the photo is redrawn smaller before upload. The model looks at a few hundred
 * pixels, so 1024 on the longest side keeps every detail it can use while cutting the upload
 * of a phone photo (12 MP, 3-6 MB) to a few hundred kilobytes.
 */
const MAX_SIDE = 1024;
const MAX_BYTES = 3 * 1024 * 1024;
const JPEG_QUALITY = 0.9;

const JWT_SHAPE = /^[\w-]+\.[\w-]+\.[\w-]*$/;

/** Types the server decodes; anything else the browser can read is converted to JPEG. */
const SERVER_TYPES = new Set([
  'image/jpeg',
  'image/png',
  'image/webp',
  'image/gif',
  'image/avif',
  'image/tiff',
]);

/** Largest side of the preview, in CSS pixels. */
const PREVIEW_SIDE = 480;

const percent = new Intl.NumberFormat('en', {
  style: 'percent',
  minimumFractionDigits: 1,
  maximumFractionDigits: 1,
});

const $ = (id) => document.getElementById(id);
const ui = {
  photoInput: $('photo-input'),
  cameraInput: $('camera-input'),
  dropZone: $('drop-zone'),
  tokenInput: $('token-input'),
  credentials: $('credentials'),
  modelInfo: $('model-info'),
  status: $('status'),
  outcome: $('outcome'),
  previewFigure: $('preview-figure'),
  preview: $('preview'),
  previewCaption: $('preview-caption'),
  error: $('error'),
  errorTitle: $('error-title'),
  errorDetail: $('error-detail'),
  errorTechnical: $('error-technical'),
  answer: $('answer'),
  verdict: $('verdict'),
  verdictDetail: $('verdict-detail'),
  predictions: $('predictions'),
  answerModel: $('answer-model'),
  answerTime: $('answer-time'),
};

/** The request in flight, cancelled when another photo is chosen. */
let current = null;

// ---------------------------------------------------------------------------------------------
// Choosing a photo

for (const input of [ui.photoInput, ui.cameraInput]) {
  input.addEventListener('change', () => {
    const file = input.files && input.files[0];
    // Cleared so that choosing the same file again still counts as a change.
    input.value = '';
    if (file) identify(file);
  });
}

// The whole window accepts drops, so a photo that misses the zone does not make the browser
// navigate away to display it.
window.addEventListener('dragover', (event) => {
  event.preventDefault();
  ui.dropZone.classList.add('dragging');
});
window.addEventListener('dragleave', (event) => {
  if (!event.relatedTarget) ui.dropZone.classList.remove('dragging');
});
window.addEventListener('drop', (event) => {
  event.preventDefault();
  ui.dropZone.classList.remove('dragging');
  const file = event.dataTransfer && event.dataTransfer.files[0];
  if (file) identify(file);
  else setStatus('That was not a file. Drop a photo file from your computer.');
});

document.addEventListener('paste', (event) => {
  const file = event.clipboardData && event.clipboardData.files[0];
  if (file) identify(file);
});

ui.tokenInput.addEventListener('change', loadModelInfo);

// ---------------------------------------------------------------------------------------------
// One identification

async function identify(file) {
  if (current) current.abort();
  const controller = new AbortController();
  current = controller;

  resetOutcome();
  setState('busy');
  setStatus(`Reading ${file.name || 'the photo'}…`);
  const upload = await prepareUpload(file);
  if (controller.signal.aborted) return;
  showPreview(file, upload);
  bringIntoView(ui.outcome);

  setStatus('Identifying…');
  const started = performance.now();
  const reply = await send(upload, controller.signal);
  if (controller.signal.aborted) return;
  current = null;

  if (reply.error) {
    showError(reply.error);
    setStatus('No answer: see the message below.');
    setState('failed');
    return;
  }
  showAnswer(reply.body, performance.now() - started);
  // The live region reads the verdict out, so that a screen reader user hears the answer.
  setStatus(`Answer: ${ui.verdict.textContent}. ${ui.verdictDetail.textContent}`);
  setState('answered');
}

/**
 * Decides what to upload: the file as it is, or a smaller (or converted) JPEG drawn upright
 * from it. When the browser cannot read the file the file goes as it is and the server says
 * what is wrong with it.
 */
async function prepareUpload(file) {
  const original = { blob: file, type: file.type || 'application/octet-stream' };
  let bitmap;
  try {
    bitmap = await createImageBitmap(file, { imageOrientation: 'from-image' });
  } catch {
    return { ...original, bitmap: null, change: null };
  }

  const longest = Math.max(bitmap.width, bitmap.height);
  const tooLarge = longest > MAX_SIDE || file.size > MAX_BYTES;
  const unsupported = !SERVER_TYPES.has(file.type);
  if (!tooLarge && !unsupported) {
    return { ...original, bitmap, change: null };
  }

  const scale = Math.min(1, MAX_SIDE / longest);
  const width = Math.max(1, Math.round(bitmap.width * scale));
  const height = Math.max(1, Math.round(bitmap.height * scale));
  const blob = await drawJpeg(bitmap, width, height);
  if (!blob) {
    return { ...original, bitmap, change: null };
  }
  const change = { reason: tooLarge ? 'smaller' : 'converted', width, height, bytes: blob.size };
  return { blob, type: blob.type, bitmap, change };
}

/** Draws the bitmap at the given size on a white background (JPEG has no transparency). */
function drawJpeg(bitmap, width, height) {
  const canvas = document.createElement('canvas');
  canvas.width = width;
  canvas.height = height;
  const context = canvas.getContext('2d');
  context.fillStyle = '#fff';
  context.fillRect(0, 0, width, height);
  context.imageSmoothingEnabled = true;
  context.imageSmoothingQuality = 'high';
  context.drawImage(bitmap, 0, 0, width, height);
  return new Promise((resolve) => canvas.toBlob(resolve, 'image/jpeg', JPEG_QUALITY));
}

/** Posts the photo; resolves to `{ body }` or `{ error }`, never rejects. */
async function send(upload, signal) {
  const headers = { 'Content-Type': upload.type, ...authorization() };
  let response;
  try {
    response = await fetch(IDENTIFY_URL, { method: 'POST', body: upload.blob, headers, signal });
  } catch (err) {
    if (signal.aborted) return { error: null };
    return { error: { kind: 'network', detail: String(err && err.message) } };
  }
  const body = await readJson(response);
  if (!response.ok) {
    const apiError = (body && body.error) || {};
    return {
      error: {
        kind: 'api',
        status: response.status,
        code: typeof apiError.code === 'string' ? apiError.code : '',
        message: typeof apiError.message === 'string' ? apiError.message : '',
        retryAfter: response.headers.get('Retry-After'),
      },
    };
  }
  if (!isIdentification(body)) {
    return { error: { kind: 'shape', status: response.status } };
  }
  return { body };
}

async function readJson(response) {
  try {
    return await response.json();
  } catch {
    return null;
  }
}

function isIdentification(body) {
  return (
    body !== null &&
    typeof body === 'object' &&
    typeof body.isPet === 'boolean' &&
    Array.isArray(body.predictions)
  );
}

/**
 * The server takes `Bearer <JWT>` or `ApiKey <key>`. A JWT is three dot-separated base64url
 * parts, which an API key never is, so one field serves both.
 */
function authorization() {
  const credential = ui.tokenInput.value.trim();
  if (!credential) return {};
  const scheme = JWT_SHAPE.test(credential) ? 'Bearer' : 'ApiKey';
  return { Authorization: `${scheme} ${credential}` };
}

// ---------------------------------------------------------------------------------------------
// Showing things

function setStatus(text) {
  ui.status.textContent = text;
}

/** `busy`, `answered` or `failed` on the body element: for styles and for the page's tests. */
function setState(state) {
  document.body.dataset.state = state;
}

/** On a phone the outcome starts below the fold: scroll to it, unless it is already in view. */
function bringIntoView(element) {
  const top = element.getBoundingClientRect().top;
  if (top < 0 || top > window.innerHeight * 0.6) {
    const still = window.matchMedia('(prefers-reduced-motion: reduce)').matches;
    element.scrollIntoView({ block: 'start', behavior: still ? 'auto' : 'smooth' });
  }
}

function resetOutcome() {
  ui.outcome.hidden = false;
  ui.error.hidden = true;
  ui.answer.hidden = true;
  ui.answer.classList.remove('not-pet');
  ui.previewFigure.hidden = true;
  ui.predictions.replaceChildren();
}

/** Draws the photo upright on the preview canvas and says what happened to it. */
function showPreview(file, upload) {
  ui.previewFigure.hidden = false;
  const name = file.name || 'Pasted photo';
  const lines = [];

  if (upload.bitmap) {
    drawPreview(upload.bitmap);
    ui.preview.hidden = false;
    ui.preview.setAttribute('aria-label', `Your photo: ${name}`);
    lines.push(`${name}: ${size(upload.bitmap.width, upload.bitmap.height)}, ${bytes(file.size)}.`);
  } else {
    ui.preview.hidden = true;
    lines.push(`${name} (${bytes(file.size)}): your browser cannot show this file.`);
    lines.push('It is sent to the server as it is.');
  }

  const change = upload.change;
  if (change && change.reason === 'smaller') {
    lines.push(
      `Made smaller in your browser before sending: ${size(change.width, change.height)}, ` +
        `${bytes(change.bytes)}. The model needs far fewer pixels, so the answer is the same.`,
    );
  } else if (change) {
    lines.push(`Converted to JPEG in your browser before sending, as the server cannot read it.`);
  }
  ui.previewCaption.replaceChildren(...lines.map(paragraph));
}

function drawPreview(bitmap) {
  const ratio = window.devicePixelRatio || 1;
  const scale = Math.min(1, (PREVIEW_SIDE * ratio) / Math.max(bitmap.width, bitmap.height));
  const canvas = ui.preview;
  canvas.width = Math.max(1, Math.round(bitmap.width * scale));
  canvas.height = Math.max(1, Math.round(bitmap.height * scale));
  const context = canvas.getContext('2d');
  context.imageSmoothingQuality = 'high';
  context.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
}

function showAnswer(result, roundTripMs) {
  ui.answer.hidden = false;
  const top = result.predictions[0];

  if (!result.isPet) {
    ui.answer.classList.add('not-pet');
    ui.verdict.textContent = 'Not a cat or a dog';
    ui.verdictDetail.textContent = top
      ? `The model does not see a pet in this photo. Its best guess: ${displayName(top)} ` +
        `(${share(top.confidence)}).`
      : 'The model does not see a pet in this photo.';
  } else {
    const species = capitalise(result.species || 'pet');
    ui.verdict.textContent = result.breed ? `${species}: ${result.breed}` : `A ${result.species}`;
    ui.verdictDetail.textContent = result.breed
      ? `Confidence ${share(result.confidence)}.`
      : 'The model is not sure of the breed.';
  }

  ui.predictions.replaceChildren(...result.predictions.map(predictionItem));
  ui.answerModel.textContent = result.model ? `${result.model.name} ${result.model.version}` : '-';
  ui.answerTime.textContent = timeTaken(result.timingsMs, roundTripMs);
}

function predictionItem(prediction) {
  const item = document.createElement('li');
  const name = span('prediction-name', displayName(prediction));
  const kind = span('prediction-kind', prediction.species || 'not a cat or dog');
  const value = span('prediction-value', share(prediction.confidence));

  const bar = span('bar', '');
  bar.setAttribute('aria-hidden', 'true');
  const fill = span('bar-fill', '');
  // Set through the CSS object model: allowed by the page's policy, unlike style attributes.
  fill.style.width = `${Math.max(0, Math.min(1, prediction.confidence)) * 100}%`;
  if (!prediction.species) fill.classList.add('other');
  bar.append(fill);

  item.append(name, kind, value, bar);
  return item;
}

/** Plain words for every way an identification can fail. */
function describeError(error) {
  if (error.kind === 'network') {
    return ['Could not reach the server.', 'Check the connection and try again.'];
  }
  if (error.kind === 'shape') {
    return ['The server gave an answer this page does not understand.', `Status ${error.status}.`];
  }
  const wait = error.retryAfter ? `Try again in ${error.retryAfter} seconds.` : 'Try again soon.';
  const byCode = {
    payload_too_large: ['The photo is too large.', 'Choose a smaller photo.'],
    unsupported_media_type: [
      'This type of file is not supported.',
      'Choose a photo in JPEG, PNG, WebP, GIF, AVIF or TIFF format.',
    ],
    undecodable_image: [
      'This file is not an image the server can read.',
      'It may be damaged, or not a photo at all.',
    ],
    too_many_pixels: ['The photo has too many pixels.', 'Choose a smaller photo.'],
    unauthorized: [
      'Sign-in needed.',
      'This server needs an API key or token: enter one under "API key or token" above.',
    ],
    forbidden: ['This API key or token is not allowed to identify photos.', ''],
    rate_limited: ['Too many photos in a short time.', wait],
    queue_full: ['The server is busy.', wait],
    not_ready: ['The server is not ready yet: the model is still loading.', wait],
    bad_request: ['The server did not understand the request.', error.message],
  };
  const byStatus = {
    400: byCode.bad_request,
    401: byCode.unauthorized,
    403: byCode.forbidden,
    413: byCode.payload_too_large,
    415: byCode.unsupported_media_type,
    422: byCode.undecodable_image,
    429: byCode.rate_limited,
    503: byCode.queue_full,
  };
  return (
    byCode[error.code] ||
    byStatus[error.status] || ['Something went wrong on the server.', 'Try again later.']
  );
}

function showError(error) {
  if (!error) return;
  const [title, advice] = describeError(error);
  ui.errorTitle.textContent = title;
  ui.errorDetail.textContent = advice;
  ui.errorTechnical.textContent = error.kind === 'api' ? serverSaid(error) : '';
  ui.error.hidden = false;
  if (error.status === 401) ui.credentials.open = true;
}

/** The server's own words, for whoever reports the problem. */
function serverSaid(error) {
  const code = error.code ? ` ${error.code}` : '';
  const message = error.message ? `: ${error.message}` : '';
  return `Server's answer: HTTP ${error.status}${code}${message}`;
}

// ---------------------------------------------------------------------------------------------
// The model in use

async function loadModelInfo() {
  let response;
  try {
    response = await fetch(MODELS_URL, { headers: authorization() });
  } catch {
    ui.modelInfo.textContent = 'Model: the server cannot be reached.';
    return;
  }
  const body = await readJson(response);
  if (response.status === 401) {
    ui.modelInfo.textContent = 'Model: sign-in needed to see it.';
    return;
  }
  if (!response.ok || !body || typeof body.name !== 'string') {
    ui.modelInfo.textContent = 'Model: not available right now.';
    return;
  }
  const labels = Array.isArray(body.labels) ? `, ${body.labels.length} labels` : '';
  ui.modelInfo.textContent = `Model: ${body.name} ${body.version} (${body.backend}${labels})`;
}

// ---------------------------------------------------------------------------------------------
// Small formatting helpers

/** A probability as a percentage; a tiny one as "< 0.1%" rather than a misleading "0.0%". */
function share(probability) {
  if (probability > 0 && probability < 0.0005) return `< ${percent.format(0.001)}`;
  return percent.format(probability);
}

function displayName(prediction) {
  return prediction.breed || String(prediction.label).split(',')[0].trim();
}

function timeTaken(timings, roundTripMs) {
  const total = `${Math.round(roundTripMs)} ms in all, upload included`;
  if (!timings || typeof timings.total !== 'number') return total;
  const parts = [
    `decoding ${ms(timings.decode)}`,
    `waiting ${ms(timings.queue)}`,
    `model ${ms(timings.inference)}`,
  ];
  return `${ms(timings.total)} on the server (${parts.join(', ')}); ${total}.`;
}

function ms(value) {
  return typeof value === 'number' ? `${Math.round(value)} ms` : '-';
}

function size(width, height) {
  return `${width} × ${height} px`;
}

function bytes(count) {
  if (count < 1024) return `${count} bytes`;
  if (count < 1024 * 1024) return `${Math.round(count / 1024)} kB`;
  return `${(count / (1024 * 1024)).toFixed(1)} MB`;
}

function capitalise(text) {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function span(className, text) {
  const element = document.createElement('span');
  element.className = className;
  element.textContent = text;
  return element;
}

function paragraph(text) {
  const element = document.createElement('p');
  element.textContent = text;
  return element;
}

loadModelInfo();
