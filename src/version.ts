import * as fs from 'fs';
import * as path from 'path';

/** The package's version, read once from package.json beside dist/ (or src/). */
export const VERSION: string = (() => {
  try {
    return JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8')).version as string;
  } catch {
    return '0.0.0';
  }
})();
