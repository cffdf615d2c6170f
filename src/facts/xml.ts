/**
 * The XML that Pacemaker's tools print (`cibadmin --query`,
 * `crm_mon --output-as=xml`) as a tree of elements and attributes, read by
 * saxes: a strict XML 1.0 parser (well-formedness, entities, one root,
 * attribute-value normalisation, as the specification says). Text, CDATA,
 * comments, processing instructions and the doctype are dropped: the facts
 * are all in elements and attributes. Malformed input throws at its first
 * error with line and column, so a probe's garbage never becomes a "fact".
 */
import { SaxesParser } from 'saxes';

export interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
}

export function parseXml(text: string): XmlElement {
  const parser = new SaxesParser();
  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;
  parser.on('error', (e) => {
    const at = parser.position;
    throw new Error(`XML: ${e.message} (near "${text.slice(Math.max(0, at - 20), at + 20).replace(/\n/g, ' ')}")`);
  });
  parser.on('opentag', (tag) => {
    const el: XmlElement = { name: tag.name, attrs: { ...tag.attributes }, children: [] };
    const parent = stack[stack.length - 1];
    if (parent) parent.children.push(el);
    else root = el;
    stack.push(el);
  });
  parser.on('closetag', () => {
    stack.pop();
  });
  parser.write(text).close();
  // saxes reports a document without a root element as an error; this is for the type checker
  if (!root) throw new Error('XML: no element found');
  return root;
}

export function child(el: XmlElement, name: string): XmlElement | undefined {
  return el.children.find((c) => c.name === name);
}

export function children(el: XmlElement, name: string): XmlElement[] {
  return el.children.filter((c) => c.name === name);
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' };

/** An attribute value as XML text: markup escaped, control characters (tab, newline...) as character references so they survive attribute-value normalisation. */
function attrText(v: string): string {
  // eslint-disable-next-line no-control-regex
  return v.replace(/[&<>"]|[\u0000-\u001f\u007f]/g, (c) => ESCAPES[c] ?? `&#x${c.charCodeAt(0).toString(16)};`);
}

/** The tree as XML text, one element per line, indented by depth (what parseXml reads back to the same tree). */
export function serializeXml(el: XmlElement, depth = 0): string {
  const pad = '  '.repeat(depth);
  const attrs = Object.entries(el.attrs)
    .map(([k, v]) => ` ${k}="${attrText(v)}"`)
    .join('');
  if (el.children.length === 0) return `${pad}<${el.name}${attrs}/>\n`;
  return `${pad}<${el.name}${attrs}>\n${el.children.map((c) => serializeXml(c, depth + 1)).join('')}${pad}</${el.name}>\n`;
}
