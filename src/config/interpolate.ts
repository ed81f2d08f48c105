import { parse as parseYamlScalar } from 'yaml';

const VARIABLE = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;
const WHOLE_VARIABLE = /^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$/;

export interface InterpolationProblem {
  path: (string | number)[];
  message: string;
}

/**
 * Replaces `${NAME}` in every string value of a parsed config tree. Interpolation happens after
 * parsing, never on the raw text, so a variable's value cannot inject YAML structure. A value that
 * is exactly one `${NAME}` is read as a YAML scalar, so `port: ${PORT}` still yields a number.
 */
export function interpolateEnv(
  tree: unknown,
  env: NodeJS.ProcessEnv,
  problems: InterpolationProblem[],
  path: (string | number)[] = [],
): unknown {
  if (typeof tree === 'string') return interpolateString(tree, env, problems, path);
  if (Array.isArray(tree)) return tree.map((item, i) => interpolateEnv(item, env, problems, [...path, i]));
  if (tree !== null && typeof tree === 'object') {
    const out: Record<string, unknown> = {};
    // defineProperty, not assignment: a `__proto__` key must stay a plain (and so unknown) key.
    for (const [key, value] of Object.entries(tree))
      Object.defineProperty(out, key, {
        value: interpolateEnv(value, env, problems, [...path, key]),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    return out;
  }
  return tree;
}

function interpolateString(
  value: string,
  env: NodeJS.ProcessEnv,
  problems: InterpolationProblem[],
  path: (string | number)[],
): unknown {
  if (!value.includes('${')) return value;
  const whole = WHOLE_VARIABLE.exec(value);
  if (whole) {
    const resolved = env[whole[1]!];
    if (resolved === undefined) {
      problems.push({ path, message: `environment variable ${whole[1]} is not set` });
      return value;
    }
    return scalarFrom(resolved);
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
