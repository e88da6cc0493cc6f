import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TSchema } from '@sinclair/typebox';
import { Command } from 'commander';
import { afterAll, describe, expect, it } from 'vitest';
import { AgentConfig } from '../../../src/agent/config.js';
import { registerAgentCommands } from '../../../src/cli/commands/agent.js';
import { registerControlCommands } from '../../../src/cli/commands/control.js';
import { EXIT } from '../../../src/cli/exit-codes.js';
import { loadConfigFile, parseConfig } from '../../../src/common/config-file.js';
import { FerryError } from '../../../src/common/errors.js';
import { ControlConfig } from '../../../src/control/config.js';
import { parseUnitFile, words, type UnitFile } from './unit-file.js';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const read = (rel: string) => readFileSync(join(REPO, rel), 'utf8');
const CONTROL_EXAMPLE = join(REPO, 'config/control.example.json');
const AGENT_EXAMPLE = join(REPO, 'config/agent.example.json');
const BIN = '/usr/local/bin/ferry';

const tmp = mkdtempSync(join(tmpdir(), 'ferry-config-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

let seq = 0;
function writeTemp(content: string): string {
  const file = join(tmp, `config-${++seq}.json`);
  writeFileSync(file, content);
  return file;
}

function exampleValue(file: string): Record<string, unknown> {
  return JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
}

function configError(file: string, schema: TSchema): FerryError {
  try {
    loadConfigFile(file, schema);
  } catch (err) {
    expect(err).toBeInstanceOf(FerryError);
    return err as FerryError;
  }
  throw new Error(`${file} was accepted`);
}

describe('example configs', () => {
  it('control.example.json loads with the ControlConfig schema', () => {
    const c = loadConfigFile(CONTROL_EXAMPLE, ControlConfig);
    expect(c.dataDir).toBe('/var/lib/ferry/control');
    expect(c.listen).toEqual({ host: '0.0.0.0', port: 7750 });
    expect(c.publicUrl).toMatch(/^https:\/\//);
  });

  it('agent.example.json loads with the AgentConfig schema', () => {
    const c = loadConfigFile(AGENT_EXAMPLE, AgentConfig);
    expect(c.roots.length).toBeGreaterThanOrEqual(2);
    expect(c.roots[0]).toMatchObject({ writable: true });
    expect(c.roots.some((r) => !r.writable)).toBe(true);
    expect(c.dataPortRange).toEqual([50000, 51000]);
  });
});

/** Bad variants of each example: what to change, and the key the error must name. */
const BAD: Array<{ name: string; file: string; schema: TSchema; edit: (v: Record<string, any>) => void; key: string }> = [
  { name: 'unknown top-level key', file: CONTROL_EXAMPLE, schema: ControlConfig, edit: (v) => { v['listenPort'] = 1; }, key: 'listenPort' },
  { name: 'unknown nested key', file: CONTROL_EXAMPLE, schema: ControlConfig, edit: (v) => { v['tls'].certfile = '/x'; }, key: 'certfile' },
  { name: 'wrong type', file: CONTROL_EXAMPLE, schema: ControlConfig, edit: (v) => { v['listen'].port = '7750'; }, key: '/listen/port' },
  { name: 'out of range', file: CONTROL_EXAMPLE, schema: ControlConfig, edit: (v) => { v['setupKeyTtlSeconds'] = 5; }, key: '/setupKeyTtlSeconds' },
  { name: 'missing required key', file: CONTROL_EXAMPLE, schema: ControlConfig, edit: (v) => { delete v['dataDir']; }, key: 'dataDir' },
  { name: 'unknown root key', file: AGENT_EXAMPLE, schema: AgentConfig, edit: (v) => { v['roots'][1].readonly = true; }, key: 'readonly' },
  { name: 'wrong type in a root', file: AGENT_EXAMPLE, schema: AgentConfig, edit: (v) => { v['roots'][0].writable = 'yes'; }, key: '/roots/0/writable' },
  { name: 'relative root path', file: AGENT_EXAMPLE, schema: AgentConfig, edit: (v) => { v['roots'][0].path = 'srv/data'; }, key: '/roots/0/path' },
  { name: 'node id not a UUID', file: AGENT_EXAMPLE, schema: AgentConfig, edit: (v) => { v['nodeId'] = 'node-1'; }, key: '/nodeId' },
  { name: 'missing required key (agent)', file: AGENT_EXAMPLE, schema: AgentConfig, edit: (v) => { delete v['endpointId']; }, key: 'endpointId' },
  { name: 'wrong version', file: AGENT_EXAMPLE, schema: AgentConfig, edit: (v) => { v['version'] = 2; }, key: '/version' },
];

describe('bad configs are rejected with the file and the key', () => {
  for (const bad of BAD) {
    it(bad.name, () => {
      const v = exampleValue(bad.file);
      bad.edit(v);
      const file = writeTemp(JSON.stringify(v));
      const err = configError(file, bad.schema);
      expect(err.code).toBe('Config.Invalid');
      expect(err.message.startsWith(`${file}: `)).toBe(true);
      expect(err.message).toContain(bad.key);
    });
  }

  it('invalid JSON', () => {
    const file = writeTemp(read('config/control.example.json').replace('"version": 1,', '"version": 1,,'));
    const err = configError(file, ControlConfig);
    expect(err.code).toBe('Config.Invalid');
    expect(err.message).toMatch(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: not valid JSON`));
  });

  it('a missing file', () => {
    const file = join(tmp, 'absent.json');
    const err = configError(file, AgentConfig);
    expect(err.code).toBe('Config.NotFound');
    expect(err.message).toContain(file);
  });
});

type SchemaNode = { type?: string; properties?: Record<string, TSchema>; items?: TSchema | TSchema[] };

/**
 * Every key of a schema as the README's tables name it: `listen.host`, `roots`, `roots[].path`.
 * Plain nested objects (`listen`) get no row of their own, only their keys do.
 */
function schemaKeys(schema: TSchema, prefix = ''): string[] {
  const s = schema as SchemaNode;
  if (s.type === 'object' && s.properties) {
    return Object.entries(s.properties).flatMap(([k, sub]) => {
      const nested = schemaKeys(sub, `${prefix}${k}.`);
      return (sub as SchemaNode).type === 'object' ? nested : [`${prefix}${k}`, ...nested];
    });
  }
  if (s.type === 'array' && s.items && !Array.isArray(s.items)) return schemaKeys(s.items, `${prefix.slice(0, -1)}[].`);
  return [];
}

describe('config/README.md', () => {
  const readme = read('config/README.md');
  const section = (title: string) => readme.split(/^## /m).find((s) => s.startsWith(title)) ?? '';

  it.each([['control.json', ControlConfig], ['agent.json', AgentConfig]] as const)('documents every key of %s', (title, schema) => {
    const text = section(title);
    const keys = schemaKeys(schema);
    expect(keys.length).toBeGreaterThan(8);
    const undocumented = keys.filter((k) => !text.includes(`| \`${k}\` |`));
    expect(undocumented).toEqual([]);
  });
});

const units = {
  control: parseUnitFile(read('systemd/ferry-control.service')),
  agent: parseUnitFile(read('systemd/ferry-agent.service')),
};
const S = 'Service';

/** The `--option` names a unit's ExecStart passes, checked against the real CLI definition. */
function cliOptionsOf(path: string[]): string[] {
  const program = new Command();
  registerControlCommands(program);
  registerAgentCommands(program);
  let cmd: Command | undefined = program;
  for (const name of path) cmd = cmd?.commands.find((c) => c.name() === name);
  if (!cmd) throw new Error(`no command ferry ${path.join(' ')}`);
  return cmd.options.map((o) => o.long ?? '');
}

describe('systemd units', () => {
  describe.each(Object.entries(units))('ferry-%s.service', (role, unit: UnitFile) => {
    const stateDir = `/var/lib/${unit.value(S, 'StateDirectory')}`;

    it('runs as a dedicated user with the hardening settings', () => {
      expect(unit.value(S, 'User')).toBe('ferry');
      const expected: Record<string, string> = {
        NoNewPrivileges: 'yes', ProtectSystem: 'strict', PrivateTmp: 'yes', ProtectKernelTunables: 'yes',
        ProtectKernelModules: 'yes', ProtectKernelLogs: 'yes', LockPersonality: 'yes',
        ProtectHome: role === 'agent' ? 'read-only' : 'yes',
      };
      for (const [key, v] of Object.entries(expected)) expect(unit.value(S, key), key).toBe(v);
      expect(words(unit.values(S, 'RestrictAddressFamilies')).sort()).toEqual(['AF_INET', 'AF_INET6', 'AF_UNIX']);
    });

    it('does not set MemoryDenyWriteExecute (the V8 JIT needs W+X pages)', () => {
      expect(unit.has(S, 'MemoryDenyWriteExecute')).toBe(false);
    });

    it('restarts on failure but not after a config error', () => {
      expect(unit.value(S, 'Restart')).toBe('on-failure');
      expect(words(unit.values(S, 'RestartPreventExitStatus'))).toContain(String(EXIT.config));
    });

    it('can write its state directory and nothing else', () => {
      expect(stateDir).toBe(`/var/lib/ferry/${role}`);
      expect(words(unit.values(S, 'ReadWritePaths')).map((p) => p.replace(/^-/, ''))).toEqual([stateDir]);
    });

    it('starts the installed ferry command with options the CLI knows', () => {
      const argv = unit.value(S, 'ExecStart').split(/\s+/);
      expect(argv.slice(0, 3)).toEqual([BIN, role, 'run']);
      const known = cliOptionsOf([role, 'run']);
      for (const arg of argv.filter((a) => a.startsWith('--'))) expect(known, arg).toContain(arg);
    });
  });

  it('control reads the config whose dataDir is its state directory', () => {
    const argv = units.control.value(S, 'ExecStart').split(/\s+/);
    expect(argv[argv.indexOf('--config') + 1]).toBe('/etc/ferry/control.json');
    expect(exampleValue(CONTROL_EXAMPLE)['dataDir']).toBe(`/var/lib/${units.control.value(S, 'StateDirectory')}`);
  });

  it('the agent runs from its state directory, reloads on SIGHUP and shows how to add writable roots', () => {
    const argv = units.agent.value(S, 'ExecStart').split(/\s+/);
    expect(argv[argv.indexOf('--data-dir') + 1]).toBe(`/var/lib/${units.agent.value(S, 'StateDirectory')}`);
    expect(units.agent.value(S, 'ExecReload')).toMatch(/^\/bin\/kill -HUP \$MAINPID$/);
    expect(units.agent.comments.some((c) => /^ReadWritePaths=-?\/\S+/.test(c))).toBe(true);
  });

  it('the install instructions use the same command path', () => {
    expect(read('systemd/README.md')).toContain(`ln -sf /opt/ferry/bin/ferry.cjs ${BIN}`);
  });

  const analyzeVersion = Number(/systemd (\d+)/.exec(spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' }).stdout ?? '')?.[1] ?? 0);
  const hostUnits = ['/usr/lib/systemd/system', '/lib/systemd/system'].find((d) => existsSync(join(d, 'sysinit.target')));

  // `verify --root` needs systemd 250 or later; elsewhere the settings checks above still run.
  it.skipIf(analyzeVersion < 250 || !hostUnits)('systemd-analyze verify finds no unknown key or bad value', () => {
    const root = join(tmp, 'root');
    mkdirSync(join(root, 'etc/systemd/system'), { recursive: true });
    cpSync(hostUnits!, join(root, hostUnits!), { recursive: true, verbatimSymlinks: true });
    for (const exe of [BIN, '/bin/kill']) {
      mkdirSync(join(root, exe, '..'), { recursive: true });
      writeFileSync(join(root, exe), '#!/bin/sh\n');
      chmodSync(join(root, exe), 0o755);
    }
    const files = ['ferry-control.service', 'ferry-agent.service'].map((f) => {
      cpSync(join(REPO, 'systemd', f), join(root, 'etc/systemd/system', f));
      return `/etc/systemd/system/${f}`;
    });
    const r = spawnSync('systemd-analyze', ['verify', `--root=${root}`, '--man=no', ...files], { encoding: 'utf8' });
    expect(r.stderr + r.stdout).toBe('');
    expect(r.status).toBe(0);
  });
});

describe('Dockerfile', () => {
  const dockerfile = read('Dockerfile');
  const instruction = (name: string) => dockerfile.split('\n').filter((l) => l.startsWith(`${name} `)).map((l) => l.slice(name.length + 1).trim());

  it('exposes the default control port and agent data port range', () => {
    const control = parseConfig({ version: 1, dataDir: '/d' }, ControlConfig, 'defaults');
    const minimal = exampleValue(AGENT_EXAMPLE);
    delete minimal['dataPortRange'];
    const agent = parseConfig(minimal, AgentConfig, 'defaults');
    expect(words(instruction('EXPOSE'))).toEqual([String(control.listen.port), agent.dataPortRange.join('-')]);
  });

  it('runs the package bin as a non-root user', () => {
    const pkg = JSON.parse(read('package.json')) as { bin: { ferry: string } };
    expect(instruction('ENTRYPOINT').map((e) => JSON.parse(e) as unknown)).toEqual([['node', `/app/${pkg.bin.ferry}`]]);
    const users = instruction('USER');
    expect(users.length).toBeGreaterThan(0);
    expect(users.at(-1)).not.toMatch(/^(root|0)(:|$)/);
  });

  it('keeps host builds out of the build context', () => {
    const ignored = read('.dockerignore').split('\n').map((l) => l.trim());
    for (const p of ['node_modules', 'dist', '.git', 'native/build']) expect(ignored).toContain(p);
  });
});
