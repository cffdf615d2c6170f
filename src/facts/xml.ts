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
