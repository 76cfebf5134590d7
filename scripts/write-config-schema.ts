// Writes omniglue.config.schema.json from the zod schema: npm run config-schema (a test checks it is current).
import * as fs from 'fs';
import * as path from 'path';
import { configFileJsonSchema } from '../config/json-schema';

const target = path.resolve(__dirname, '..', 'omniglue.config.schema.json');
fs.writeFileSync(target, `${JSON.stringify(configFileJsonSchema(), null, 2)}\n`);
console.log(`wrote ${path.relative(process.cwd(), target)}`);
