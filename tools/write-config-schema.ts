// npm run config-schema: writes what is generated from the zod schema (config/schema.ts), omniglue.config.schema.json
// for editors and the configuration reference of README.md. Tests fail when either is stale.
import * as fs from 'fs';
import * as path from 'path';
import { configFileJsonSchema } from '../config/json-schema';
import { withReference } from '../config/reference';

const root = path.resolve(__dirname, '..');
const schema = path.join(root, 'omniglue.config.schema.json');
fs.writeFileSync(schema, `${JSON.stringify(configFileJsonSchema(), null, 2)}\n`);
const readme = path.join(root, 'README.md');
fs.writeFileSync(readme, withReference(fs.readFileSync(readme, 'utf8')));
for (const file of [schema, readme]) console.log(`wrote ${path.relative(process.cwd(), file)}`);
