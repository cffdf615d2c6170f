/**
 * A small, strict parser for the XML that Pacemaker's tools print
 * (`cibadmin --query`, `crm_mon --output-as=xml`): elements and attributes
 * only. Text content, comments, processing instructions and doctype are
 * skipped; CDATA is rejected (Pacemaker never prints it). Malformed input
 * throws with the offset, so a probe's garbage never becomes a "fact".
 */
export interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
}

const ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

function decode(s: string, at: number): string {
  return s.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-z]+);/g, (_, e: string) => {
    if (e.startsWith('#x')) return String.fromCodePoint(parseInt(e.slice(2), 16));
    if (e.startsWith('#')) return String.fromCodePoint(parseInt(e.slice(1), 10));
    const v = ENTITIES[e];
    if (v === undefined) throw new Error(`XML: unknown entity &${e}; near offset ${at}`);
    return v;
  });
}

const NAME = /[A-Za-z_][A-Za-z0-9_.:-]*/y;
const ATTR = /\s+([A-Za-z_][A-Za-z0-9_.:-]*)\s*=\s*("([^"]*)"|'([^']*)')/y;

export function parseXml(text: string): XmlElement {
  let i = 0;
  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;
  const fail = (what: string): never => {
    throw new Error(`XML: ${what} at offset ${i} (near "${text.slice(i, i + 40).replace(/\n/g, ' ')}")`);
  };
  while (i < text.length) {
    const lt = text.indexOf('<', i);
    if (lt < 0) {
      if (text.slice(i).trim() !== '' && stack.length === 0) fail('text outside the root element');
      i = text.length;
      break;
    }
    if (stack.length === 0 && text.slice(i, lt).trim() !== '') fail('text outside the root element');
    i = lt;
    if (text.startsWith('<!--', i)) {
      const end = text.indexOf('-->', i);
      if (end < 0) fail('unterminated comment');
      i = end + 3;
      continue;
    }
    if (text.startsWith('<?', i)) {
      const end = text.indexOf('?>', i);
      if (end < 0) fail('unterminated processing instruction');
      i = end + 2;
      continue;
    }
    if (text.startsWith('<![CDATA[', i)) fail('CDATA is not supported');
    if (text.startsWith('<!', i)) {
      const end = text.indexOf('>', i);
      if (end < 0) fail('unterminated declaration');
      i = end + 1;
      continue;
    }
    if (text.startsWith('</', i)) {
      NAME.lastIndex = i + 2;
      const m = NAME.exec(text);
      if (!m) fail('bad closing tag');
      const open = stack.pop();
      if (!open || open.name !== m![0]) fail(`closing tag </${m![0]}> does not match <${open?.name ?? '(none)'}>`);
      i = NAME.lastIndex;
      while (/\s/.test(text[i] ?? '')) i++;
      if (text[i] !== '>') fail('expected ">"');
      i++;
      continue;
    }
    NAME.lastIndex = i + 1;
    const m = NAME.exec(text);
    if (!m) fail('bad tag');
    const el: XmlElement = { name: m![0], attrs: {}, children: [] };
    i = NAME.lastIndex;
    for (;;) {
      ATTR.lastIndex = i;
      const a = ATTR.exec(text);
      if (!a) break;
      if (Object.hasOwn(el.attrs, a[1]!)) fail(`duplicate attribute ${a[1]}`);
      el.attrs[a[1]!] = decode(a[3] ?? a[4] ?? '', i);
      i = ATTR.lastIndex;
    }
    while (/\s/.test(text[i] ?? '')) i++;
    let selfClosing = false;
    if (text.startsWith('/>', i)) {
      selfClosing = true;
      i += 2;
    } else if (text[i] === '>') i++;
    else fail(`bad attribute in <${el.name}>`);
    const parent = stack[stack.length - 1];
    if (parent) parent.children.push(el);
    else if (root) fail('more than one root element');
    else root = el;
    if (!selfClosing) stack.push(el);
  }
  if (stack.length > 0) throw new Error(`XML: <${stack[stack.length - 1]!.name}> is not closed`);
  if (!root) throw new Error('XML: no element found');
  return root;
}

export function child(el: XmlElement, name: string): XmlElement | undefined {
  return el.children.find((c) => c.name === name);
}

export function children(el: XmlElement, name: string): XmlElement[] {
  return el.children.filter((c) => c.name === name);
}
