import { parse as parseYamlScalar } from 'yaml';

const VARIABLE = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;
const WHOLE_VARIABLE = /^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$/;

export interface InterpolationProblem {
  path: (string | number)[];
  message: string;
}

/** A value that was exactly one `${NAME}` and was read as a number or boolean: where, and its text. */
export interface TypedVariable {
  path: (string | number)[];
  text: string;
}

/** What interpolation found besides the values: variables not set, and values it typed. */
export interface Interpolation {
  problems: InterpolationProblem[];
  typed: TypedVariable[];
}

/**
 * Replaces `${NAME}` in every string value of a parsed config tree. Interpolation happens after
 * parsing, never on the raw text, so a variable's value cannot inject YAML structure. A value that
 * is exactly one `${NAME}` is read as a YAML scalar, so `port: ${PORT}` still yields a number;
 * such values are listed in `found.typed`, so that a key wanting a string can have the text back.
 */
export function interpolateEnv(
  tree: unknown,
  env: NodeJS.ProcessEnv,
  found: Interpolation,
  path: (string | number)[] = [],
): unknown {
  if (typeof tree === 'string') return interpolateString(tree, env, found, path);
  if (Array.isArray(tree)) return tree.map((item, i) => interpolateEnv(item, env, found, [...path, i]));
  if (tree !== null && typeof tree === 'object') {
    const out: Record<string, unknown> = {};
    // defineProperty, not assignment: a `__proto__` key must stay a plain (and so unknown) key.
    for (const [key, value] of Object.entries(tree))
      Object.defineProperty(out, key, {
        value: interpolateEnv(value, env, found, [...path, key]),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    return out;
  }
  return tree;
}

/** Puts back the text of each typed value at `paths` (keys that want a string); true when any was. */
export function restoreText(tree: unknown, typed: readonly TypedVariable[], paths: Set<string>): boolean {
  let restored = false;
  for (const { path, text } of typed) {
    if (!paths.has(JSON.stringify(path))) continue;
    let parent = tree as Record<string | number, unknown>;
    for (const step of path.slice(0, -1)) parent = parent[step] as Record<string | number, unknown>;
    parent[path.at(-1)!] = text;
    restored = true;
  }
  return restored;
}

function interpolateString(
  value: string,
  env: NodeJS.ProcessEnv,
  found: Interpolation,
  path: (string | number)[],
): unknown {
  const problems = found.problems;
  if (!value.includes('${')) return value;
  const whole = WHOLE_VARIABLE.exec(value);
  if (whole) {
    const resolved = env[whole[1]!];
    if (resolved === undefined) {
      problems.push({ path, message: `environment variable ${whole[1]} is not set` });
      return value;
    }
    const scalar = scalarFrom(resolved);
    if (scalar !== resolved) found.typed.push({ path, text: resolved });
    return scalar;
  }
  return value.replace(VARIABLE, (match, name: string) => {
    const resolved = env[name];
    if (resolved === undefined) {
      problems.push({ path, message: `environment variable ${name} is not set` });
      return match;
    }
    return resolved;
  });
}

function scalarFrom(text: string): unknown {
  try {
    const parsed: unknown = parseYamlScalar(text);
    return typeof parsed === 'number' || typeof parsed === 'boolean' ? parsed : text;
  } catch {
    return text;
  }
}
