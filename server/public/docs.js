// Renders the server's OpenAPI document as a readable page: each operation with its parameters,
// request body and responses, then the data shapes. Plain browser JavaScript; every piece of
// the document is inserted as text, never as HTML.
/* global document, fetch */

const OPENAPI_URL = '/openapi.json';
const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'];

const root = document.getElementById('api');
const status = document.getElementById('docs-status');

/** Creates an element with a class (optional) and children (strings become text). */
function el(tag, className, ...children) {
  const element = document.createElement(tag);
  if (className) element.className = className;
  element.append(...children.filter((child) => child !== null && child !== undefined));
  return element;
}

/** Text with `backtick` spans shown as code; the rest stays plain text. */
function richText(text) {
  const fragment = document.createDocumentFragment();
  String(text)
    .split(/(`[^`]+`)/)
    .forEach((part) => {
      const isCode = part.length > 2 && part.startsWith('`') && part.endsWith('`');
      fragment.append(isCode ? el('code', null, part.slice(1, -1)) : part);
    });
  return fragment;
}

/** A description as paragraphs (blank lines separate them). */
function paragraphs(text) {
  if (!text) return [];
  return String(text)
    .split(/\n\s*\n/)
    .map((block) => el('p', null, richText(block.trim())));
}

function anchorId(prefix, name) {
  return `${prefix}-${String(name)
    .replace(/[^A-Za-z0-9]+/g, '-')
    .replace(/^-|-$/g, '')}`;
}

// ---------------------------------------------------------------------------------------------
// References and types

function resolve(doc, node) {
  let current = node;
  for (let hops = 0; current && current.$ref && hops < 10; hops += 1) {
    if (!current.$ref.startsWith('#/')) return current;
    current = current.$ref
      .slice(2)
      .split('/')
      .reduce(
        (value, key) => (value ? value[key.replace(/~1/g, '/').replace(/~0/g, '~')] : value),
        doc,
      );
  }
  return current || {};
}

function refName(ref) {
  return ref.split('/').pop();
}

/** A short human description of a schema's type, with links to named shapes. */
function typeOf(schema) {
  const fragment = document.createDocumentFragment();
  if (!schema || typeof schema !== 'object') {
    fragment.append('any');
    return fragment;
  }
  if (schema.$ref) {
    const name = refName(schema.$ref);
    const link = el('a', null, name);
    link.href = `#${anchorId('schema', name)}`;
    fragment.append(link);
    return fragment;
  }
  const variants = schema.oneOf || schema.anyOf;
  if (variants) {
    variants.forEach((variant, index) => {
      if (index > 0) fragment.append(' or ');
      fragment.append(typeOf(variant));
    });
    return fragment;
  }
  if (schema.allOf) {
    schema.allOf.forEach((part, index) => {
      if (index > 0) fragment.append(' and ');
      fragment.append(typeOf(part));
    });
    return fragment;
  }
  if (schema.type === undefined && schema.enum) {
    fragment.append(constraints(schema).slice(2));
    return fragment;
  }
  const fallback = schema.properties ? 'object' : 'any';
  const types = Array.isArray(schema.type) ? schema.type : [schema.type || fallback];
  types.forEach((type, index) => {
    if (index > 0) fragment.append(' or ');
    if (type === 'array') {
      fragment.append('array of ', typeOf(schema.items));
    } else {
      fragment.append(schema.format ? `${type} (${schema.format})` : type);
    }
  });
  if (schema.nullable) fragment.append(' or null');
  fragment.append(constraints(schema));
  return fragment;
}

function constraints(schema) {
  const notes = [];
  if (schema.enum) notes.push(`one of ${schema.enum.map((v) => JSON.stringify(v)).join(', ')}`);
  if (schema.minimum !== undefined) notes.push(`at least ${schema.minimum}`);
  if (schema.maximum !== undefined) notes.push(`at most ${schema.maximum}`);
  if (schema.default !== undefined) notes.push(`default ${JSON.stringify(schema.default)}`);
  return notes.length ? `; ${notes.join('; ')}` : '';
}

// ---------------------------------------------------------------------------------------------
// Tables

function table(headings, rows) {
  const head = el('tr', null, ...headings.map((heading) => el('th', null, heading)));
  const body = rows.map((cells) => {
    if (!Array.isArray(cells)) {
      const wide = el('td', null, cells.wide);
      wide.colSpan = headings.length;
      return el('tr', 'wide-row', wide);
    }
    return el('tr', null, ...cells.map((cell) => el('td', null, cell)));
  });
  const result = el('table', null, el('thead', null, head), el('tbody', null, ...body));
  return el('div', 'table-scroll', result);
}

function parametersTable(doc, parameters) {
  const rows = parameters.map((raw) => {
    const parameter = resolve(doc, raw);
    return [
      el('code', null, parameter.name || '?'),
      parameter.in || '',
      parameter.required ? 'yes' : 'no',
      typeOf(parameter.schema),
      el('span', null, richText(parameter.description || '')),
    ];
  });
  return table(['Name', 'In', 'Required', 'Type', 'Description'], rows);
}

/** Rows of an object's fields, nested objects flattened as `outer.inner` and `list[].inner`. */
function fieldRows(schema, prefix = '', depth = 0) {
  const required = new Set(schema.required || []);
  const rows = [];
  for (const [name, field] of Object.entries(schema.properties || {})) {
    const fieldPath = `${prefix}${name}`;
    rows.push([
      el('code', null, fieldPath),
      typeOf(field),
      required.has(name) ? 'yes' : 'no',
      el('span', null, richText((field && field.description) || '')),
    ]);
    const isList = field && field.type === 'array';
    const inner = isList ? field.items : field;
    if (depth < 3 && inner && !inner.$ref && inner.properties) {
      rows.push(...fieldRows(inner, `${fieldPath}${isList ? '[].' : '.'}`, depth + 1));
    }
  }
  return rows;
}

function fieldsTable(schema) {
  return table(['Field', 'Type', 'Always present', 'Description'], fieldRows(schema));
}

/** An object schema written in place (not a reference to a named shape). */
function isInlineObject(schema) {
  return Boolean(schema && !schema.$ref && schema.properties);
}

/** Media types of a body; with `fields`, an inline object schema also gets its fields table. */
function contentList(content, fields = true) {
  const types = Object.entries(content || {});
  if (types.length === 0) return null;
  const list = el('ul');
  for (const [mediaType, media] of types) {
    const schema = media && media.schema;
    const item = el('li', null, el('code', null, mediaType), ': ', typeOf(schema));
    if (fields && isInlineObject(schema)) item.append(fieldsTable(schema));
    list.append(item);
  }
  return list;
}

function responsesTable(doc, responses) {
  const rows = Object.entries(responses || {}).flatMap(([code, raw]) => {
    const response = resolve(doc, raw);
    const headers = Object.keys(response.headers || {});
    const description = el('div', null, ...paragraphs(response.description));
    if (headers.length) description.append(el('p', null, `Headers: ${headers.join(', ')}`));
    const row = [el('code', null, code), description, contentList(response.content, false) || '-'];
    // Fields of an inline body get a row of their own: the body column is too narrow for them.
    const inline = Object.values(response.content || {})
      .map((media) => media && media.schema)
      .filter(isInlineObject);
    return [row, ...inline.map((schema) => ({ wide: fieldsTable(schema) }))];
  });
  return table(['Status', 'Meaning', 'Body'], rows);
}

// ---------------------------------------------------------------------------------------------
// Sections

function operationSection(doc, pathName, pathItem, method) {
  const operation = pathItem[method];
  const id = anchorId('op', operation.operationId || `${method} ${pathName}`);
  const heading = el('h3', null, el('span', 'method', method), el('code', null, pathName));
  heading.id = id;
  const section = el('section', 'operation', heading);
  if (operation.summary) section.append(el('p', null, el('strong', null, operation.summary)));
  section.append(...paragraphs(operation.description));

  const parameters = [...(pathItem.parameters || []), ...(operation.parameters || [])];
  if (parameters.length) {
    section.append(el('h4', null, 'Parameters'), parametersTable(doc, parameters));
  }
  if (operation.requestBody) {
    const body = resolve(doc, operation.requestBody);
    section.append(el('h4', null, body.required ? 'Request body (required)' : 'Request body'));
    section.append(...paragraphs(body.description));
    section.append(contentList(body.content) || el('p', null, 'Any content.'));
  }
  section.append(el('h4', null, 'Responses'), responsesTable(doc, operation.responses));
  if (operation.security) {
    const schemes = operation.security.flatMap((requirement) => Object.keys(requirement));
    const text = schemes.length ? `Needs: ${schemes.join(' or ')}.` : 'No credentials needed.';
    section.append(el('p', null, text));
  }
  return { section, id, title: `${method.toUpperCase()} ${pathName}` };
}

function operationsSection(doc) {
  const section = el('section', null, el('h2', null, 'Operations'));
  const toc = el('ul', 'toc');
  section.append(toc);
  for (const [pathName, pathItem] of Object.entries(doc.paths || {})) {
    for (const method of METHODS.filter((m) => pathItem && pathItem[m])) {
      const { section: operation, id, title } = operationSection(doc, pathName, pathItem, method);
      const link = el('a', null, title);
      link.href = `#${id}`;
      toc.append(el('li', null, link));
      section.append(operation);
    }
  }
  return section;
}

function schemaSection(name, schema) {
  const heading = el('h3', null, name);
  heading.id = anchorId('schema', name);
  const section = el('section', null, heading, ...paragraphs(schema.description));
  const properties = Object.entries(schema.properties || {});
  if (properties.length === 0) {
    section.append(el('p', null, 'Type: ', typeOf(schema)));
    return section;
  }
  section.append(fieldsTable(schema));
  return section;
}

function securitySection(schemes) {
  const entries = Object.entries(schemes || {});
  if (entries.length === 0) return null;
  const rows = entries.map(([name, scheme]) => [
    el('code', null, name),
    [scheme.type, scheme.scheme, scheme.bearerFormat, scheme.in, scheme.name]
      .filter(Boolean)
      .join(' '),
    el('span', null, richText(scheme.description || '')),
  ]);
  return el('section', null, el('h2', null, 'Credentials'), table(['Name', 'Kind', 'How'], rows));
}

function render(doc) {
  const info = doc.info || {};
  document.getElementById('api-title').textContent = info.title || 'API description';
  document.getElementById('api-version').textContent =
    `Version ${info.version || '?'} · OpenAPI ${doc.openapi || '?'}`;
  document.title = `${info.title || 'API'} · API description`;

  const parts = [...paragraphs(info.description)];
  parts.push(securitySection(doc.components && doc.components.securitySchemes));
  parts.push(operationsSection(doc));
  const schemas = Object.entries((doc.components && doc.components.schemas) || {});
  if (schemas.length) {
    parts.push(
      el(
        'section',
        null,
        el('h2', null, 'Data shapes'),
        ...schemas.map(([n, s]) => schemaSection(n, s)),
      ),
    );
  }
  root.append(...parts.filter(Boolean));
}

async function main() {
  try {
    const response = await fetch(OPENAPI_URL);
    if (!response.ok) throw new Error(`the server answered ${response.status}`);
    render(await response.json());
    status.remove();
  } catch (err) {
    status.textContent = `The API description could not be loaded: ${err.message}.`;
  }
}

main();
