// A small Markdown renderer for model replies that builds DOM nodes, never HTML strings:
// whatever the text holds (<script>, entities, quotes) ends up as text. Covers what chat
// models write: fenced code blocks, `inline code`, **bold**, *italic*, headings, bullet and
// numbered lists, block quotes, links (http, https and mailto only) and line breaks.
// An unclosed fence renders as code so far, so a reply can be rendered while it streams.
'use strict';

function renderMarkdown(text) {
  const out = document.createDocumentFragment();
  const lines = String(text).replace(/\r\n?/g, '\n').split('\n');
  const el = (tag, cls) => {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    return node;
  };
  let i = 0;
  let paragraph = null;  // the <p> that plain lines are appended to
  const endParagraph = () => { paragraph = null; };

  while (i < lines.length) {
    const line = lines[i];
    const fence = /^\s*(`{3,}|~{3,})\s*([\w+#.-]*)\s*$/.exec(line);
    if (fence) {
      endParagraph();
      const pre = el('pre');
      const code = el('code');
      if (fence[2]) {
        code.dataset.lang = fence[2];
        code.className = 'language-' + fence[2].replace(/[^\w-]/g, '');
      }
      const body = [];
      i++;
      while (i < lines.length && !lines[i].trim().startsWith(fence[1])) body.push(lines[i++]);
      i++;  // the closing fence (or past the end)
      code.textContent = body.join('\n');
      pre.append(code);
      out.append(pre);
      continue;
    }
    const heading = /^(#{1,6})\s+(.*?)\s*#*\s*$/.exec(line);
    if (heading) {
      endParagraph();
      const hx = el('h' + Math.min(heading[1].length + 2, 6), 'md-heading');
      appendInline(hx, heading[2]);
      out.append(hx);
      i++;
      continue;
    }
    const item = listItem(line);
    if (item) {
      endParagraph();
      const list = el(item.ordered ? 'ol' : 'ul');
      if (item.ordered && item.start !== 1) list.start = item.start;
      while (i < lines.length) {
        const it = listItem(lines[i]);
        if (it && it.ordered === item.ordered) {
          const li = el('li');
          appendInline(li, it.text);
          list.append(li);
          i++;
        } else if (lines[i].trim() !== '' && /^\s{2,}\S/.test(lines[i]) && list.lastChild) {
          list.lastChild.append(document.createElement('br'));  // a continuation line
          appendInline(list.lastChild, lines[i].trim());
          i++;
        } else {
          break;
        }
      }
      out.append(list);
      continue;
    }
    if (/^\s*>/.test(line)) {
      endParagraph();
      const quote = el('blockquote');
      const quoted = [];
      while (i < lines.length && /^\s*>/.test(lines[i])) quoted.push(lines[i++].replace(/^\s*>\s?/, ''));
      quote.append(renderMarkdown(quoted.join('\n')));
      out.append(quote);
      continue;
    }
    if (line.trim() === '') {
      endParagraph();
      i++;
      continue;
    }
    if (paragraph) {
      paragraph.append(document.createElement('br'));
    } else {
      paragraph = el('p');
      out.append(paragraph);
    }
    appendInline(paragraph, line);
    i++;
  }
  return out;
}

function listItem(line) {
  let m = /^\s{0,3}[-*+]\s+(.*)$/.exec(line);
  if (m) return { ordered: false, text: m[1] };
  m = /^\s{0,3}(\d{1,9})[.)]\s+(.*)$/.exec(line);
  if (m) return { ordered: true, start: parseInt(m[1], 10), text: m[2] };
  return null;
}

// Inline spans, left to right; anything that does not close is left as the text it was.
function appendInline(parent, text) {
  const patterns = [
    { re: /`([^`]+)`/y, make: (m) => { const c = document.createElement('code'); c.textContent = m[1]; return c; } },
    { re: /\*\*(?=\S)([\s\S]*?\S)\*\*/y, make: (m) => wrap('strong', m[1]) },
    { re: /__(?=\S)([\s\S]*?\S)__/y, make: (m) => wrap('strong', m[1]) },
    { re: /\*(?=[^\s*])([^*]*?[^\s*])\*/y, make: (m) => wrap('em', m[1]) },
    { re: /(?<![\w])_(?=[^\s_])([^_]*?[^\s_])_(?![\w])/y, make: (m) => wrap('em', m[1]) },
    { re: /\[([^\]\n]+)\]\(((?:https?:\/\/|mailto:)[^\s()]+)\)/y, make: (m) => link(m[1], m[2]) },
  ];
  let plain = '';
  const flush = () => {
    if (plain) parent.append(document.createTextNode(plain));
    plain = '';
  };
  for (let at = 0; at < text.length;) {
    let matched = false;
    if ('`*_['.includes(text[at])) {
      for (const p of patterns) {
        p.re.lastIndex = at;
        const m = p.re.exec(text);
        if (m) {
          flush();
          parent.append(p.make(m));
          at += m[0].length;
          matched = true;
          break;
        }
      }
    }
    if (!matched) plain += text[at++];
  }
  flush();
}

function wrap(tag, inner) {
  const node = document.createElement(tag);
  appendInline(node, inner);
  return node;
}

function link(label, href) {
  const a = document.createElement('a');
  a.href = href;  // only http(s) and mailto reach here (the pattern), never javascript:
  a.rel = 'noopener noreferrer nofollow';
  a.target = '_blank';
  a.textContent = label;
  return a;
}
