// Stop strings: matching, holding back possible prefixes while streaming, truncation of text and tokens.
import { StopStringMatcher } from '../../src/runtime/stop-strings.js';
import { TextStream } from '../../src/runtime/text-stream.js';

describe('StopStringMatcher', () => {
  const m = new StopStringMatcher(['\n\n', 'END', 'ENDING']);

  test('finds the earliest match of any stop string', () => {
    expect(m.find('abc END x\n\n')).toEqual({ index: 4, stop: 'END' });
    expect(m.find('abc\n\nEND')).toEqual({ index: 3, stop: '\n\n' });
    expect(m.find('nothing here')).toBeNull();
  });

  test('searchFrom still finds a match that straddles the already-searched part', () => {
    expect(m.find('xxEN' + 'D', 4)).toEqual({ index: 2, stop: 'END' });
  });

  test('holdBack: the longest tail that could grow into a stop string', () => {
    expect(m.holdBack('abc EN')).toBe(2);
    expect(m.holdBack('abc E')).toBe(1);
    expect(m.holdBack('abc\n')).toBe(1);
    expect(m.holdBack('abc')).toBe(0);
    expect(new StopStringMatcher([]).holdBack('abc')).toBe(0);
  });

  test('empty stop strings are ignored', () => {
    expect(new StopStringMatcher(['']).empty).toBe(true);
  });
});

describe('TextStream', () => {
  // One character per token: token i decodes to text[i].
  const text = 'Hello END world';
  const decode = (ids: number[]) => ids.map((i) => text[i]).join('');
  const ids = [...text].map((_, i) => i);

  test('truncates the text before the stop string and reports the token that completed it', () => {
    const s = new TextStream(decode, [], ['END']);
    const emitted: string[] = [];
    let stoppedAt = -1;
    for (const id of ids) {
      const step = s.push(id);
      emitted.push(step.emit);
      if (step.stopped) {
        stoppedAt = id;
        break;
      }
    }
    expect(stoppedAt).toBe(text.indexOf('END') + 2);
    expect(s.stopTokenCount).toBe(text.indexOf('END') + 3);
    expect(s.matchedStop).toBe('END');
    expect(s.finalText).toBe('Hello ');
    expect(emitted.join('')).toBe('Hello ');
    // Nothing of the stop string was ever emitted, not even its first letters.
    expect(emitted.join('')).not.toContain('E');
  });

  test('a partial stop string that never completes is released at the end', () => {
    const s = new TextStream((ids) => ids.map((i) => 'abcEN'[i]).join(''), [], ['END']);
    const out = [0, 1, 2, 3, 4].map((id) => s.push(id).emit).join('');
    expect(out).toBe('abc');
    expect(s.finish()).toBe('EN');
    expect(s.finalText).toBe('abcEN');
    expect(s.stopped).toBe(false);
  });

  test('tokens after a stop are ignored', () => {
    const s = new TextStream(decode, [], ['Hello']);
    for (const id of ids) s.push(id);
    expect(s.finalText).toBe('');
    expect(s.stopTokenCount).toBe(5);
    expect(s.finish()).toBe('');
  });

  test('without stop strings everything streams at once', () => {
    const s = new TextStream(decode, []);
    expect(ids.map((id) => s.push(id).emit).join('') + s.finish()).toBe(text);
  });

  test('a stop string inside a multi-character token', () => {
    const pieces = ['The answer', ' is 42.\n\nNext', ' question'];
    const s = new TextStream((ids) => ids.map((i) => pieces[i]).join(''), [], ['\n\n']);
    expect(s.push(0)).toEqual({ emit: 'The answer', stopped: false });
    expect(s.push(1)).toEqual({ emit: ' is 42.', stopped: true });
    expect(s.finalText).toBe('The answer is 42.');
    expect(s.stopTokenCount).toBe(2);
  });
});
