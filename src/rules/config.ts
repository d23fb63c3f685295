/**
 * The lists and levels the rules use, with their defaults. A rules file
 * (JSON, `--rules FILE`) can replace any list and override any rule's level:
 *
 *   { "sensitiveEnv": ["SSH_AUTH_SOCK", "*_TOKEN"], "ports": { "9001": "Tor ORPort" },
 *     "persistence": { "scheduled": ["/etc/cron.d/x"] }, "levels": { "network.outbound": "LOW" } }
 */
import * as fs from 'fs';
import { LEVELS, type Level } from '../alerts';

export interface RulesConfig {
  /** Environment variable names holding secrets: exact or with '*' wildcards, case-insensitive. */
  sensitiveEnv: string[];
  /** Credential and secret files: '*' within a path segment, '**' across segments. */
  sensitiveFiles: string[];
  /** World-writable places where dropped payloads live. */
  dropLocations: string[];
  /** Remote ports worth naming: port -> service. */
  ports: Record<string, string>;
  /** AF_UNIX sockets that hand out control of the host: path -> what it is. */
  sensitiveSockets: Record<string, string>;
  /**
   * Files whose writing makes an intrusion outlive a restart or hands out
   * the host, by class (each class is the rule `persistence.<class>`): a
   * write is an open for writing, a rename or link onto, a symlink placed
   * at, or a truncate of, the path the kernel resolved.
   */
  persistence: Record<PersistenceClass, string[]>;
  /** Logs and shell histories whose truncation or removal hides what happened. */
  logFiles: string[];
  /** Programs that move data over the network from a command line (basenames). */
  networkTools: string[];
  /** Rule id -> level, replacing the rule's own. */
  levels: Record<string, Level>;
}

export const PERSISTENCE_CLASSES = ['remote-access', 'preload', 'accounts', 'scheduled', 'shell-startup', 'binaries'] as const;
export type PersistenceClass = (typeof PERSISTENCE_CLASSES)[number];

export const DEFAULT_RULES: RulesConfig = {
  sensitiveEnv: [
    'SSH_AUTH_SOCK',
    'AWS_ACCESS_KEY_ID',
    'AWS_SECRET_ACCESS_KEY',
    'AWS_SESSION_TOKEN',
    'AZURE_CLIENT_SECRET',
    'GOOGLE_APPLICATION_CREDENTIALS',
    'GITHUB_TOKEN',
    'GH_TOKEN',
    'NPM_TOKEN',
    'VAULT_TOKEN',
    'DATABASE_URL',
    'PGPASSWORD',
    'MYSQL_PWD',
    '*_TOKEN',
    '*SECRET*',
    '*API_KEY*',
    '*APIKEY*',
    '*PASSWORD*',
    '*PASSWD*',
    '*PRIVATE_KEY*',
    '*CREDENTIALS*',
  ],
  sensitiveFiles: [
    '/etc/shadow',
    '/etc/gshadow',
    '/etc/sudoers',
    '**/.ssh/id_*',
    '**/.aws/credentials',
    '**/.kube/config',
    '**/.docker/config.json',
    '**/.netrc',
    '**/.git-credentials',
    '**/.npmrc',
    '**/.pgpass',
    '/run/secrets/**',
    '/var/run/secrets/**',
  ],
  dropLocations: ['/tmp/**', '/var/tmp/**', '/dev/shm/**'],
  ports: {
    '9001': 'Tor ORPort',
    '9030': 'Tor DirPort',
    '9050': 'Tor SOCKS proxy',
    '9051': 'Tor control port',
    '9150': 'Tor Browser SOCKS proxy',
    '3333': 'Stratum mining pool',
    '4444': 'Stratum mining pool',
    '5555': 'Stratum mining pool',
    '7777': 'Stratum mining pool',
    '14444': 'Stratum mining pool (Monero)',
    '45700': 'Stratum mining pool (Monero)',
    '6667': 'IRC, a common botnet C2 channel',
    '6697': 'IRC over TLS, a common botnet C2 channel',
    '31337': 'backdoor port (31337)',
  },
  sensitiveSockets: {
    '/var/run/docker.sock': 'Docker engine API',
    '/run/docker.sock': 'Docker engine API',
    '/run/containerd/containerd.sock': 'containerd API',
    '/var/run/crio/crio.sock': 'CRI-O API',
  },
  persistence: {
    'remote-access': ['**/.ssh/authorized_keys', '**/.ssh/authorized_keys2', '/etc/ssh/sshd_config', '/etc/ssh/sshd_config.d/**'],
    preload: ['/etc/ld.so.preload', '/etc/ld.so.conf', '/etc/ld.so.conf.d/**'],
    accounts: ['/etc/passwd', '/etc/shadow', '/etc/group', '/etc/gshadow', '/etc/sudoers', '/etc/sudoers.d/**', '/etc/pam.d/**'],
    scheduled: [
      '/etc/crontab',
      '/etc/cron.*/**',
      '/etc/anacrontab',
      '/var/spool/cron/**',
      '/var/spool/at/**',
      '/etc/systemd/system/**',
      '/etc/systemd/user/**',
      '/lib/systemd/system/**',
      '/usr/lib/systemd/system/**',
      '/run/systemd/system/**',
      '**/.config/systemd/user/**',
      '/etc/init.d/**',
      '/etc/rc.local',
      '/etc/xdg/autostart/**',
      '**/.config/autostart/**',
      '/etc/udev/rules.d/**',
      '/etc/modules-load.d/**',
    ],
    'shell-startup': [
      '**/.bashrc',
      '**/.bash_profile',
      '**/.bash_login',
      '**/.bash_logout',
      '**/.profile',
      '**/.zshrc',
      '**/.zshenv',
      '**/.zprofile',
      '**/.zlogin',
      '/etc/profile',
      '/etc/profile.d/**',
      '/etc/bash.bashrc',
      '/etc/bashrc',
      '/etc/environment',
      '/etc/zsh/**',
    ],
    binaries: ['/bin/**', '/sbin/**', '/usr/bin/**', '/usr/sbin/**', '/usr/local/bin/**', '/usr/local/sbin/**', '/usr/lib/**/*.so*', '/lib/**/*.so*'],
  },
  logFiles: ['/var/log/**', '**/.bash_history', '**/.zsh_history', '**/.sh_history', '**/.ash_history', '**/.python_history'],
  networkTools: ['nc', 'ncat', 'netcat', 'nc.openbsd', 'nc.traditional', 'socat', 'curl', 'wget', 'telnet', 'nmap', 'masscan', 'tftp', 'ftp', 'sshpass'],
  levels: {},
};

function fail(file: string, message: string): never {
  throw new Error(`invalid rules file ${file}: ${message}`);
}

function stringList(file: string, key: string, value: unknown): string[] {
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string' && v.length > 0)) {
    fail(file, `"${key}" must be a list of non-empty strings`);
  }
  return value as string[];
}

function stringMap(file: string, key: string, value: unknown): Record<string, string> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(file, `"${key}" must be an object`);
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string') fail(file, `"${key}.${k}" must be a string`);
  }
  return value as Record<string, string>;
}

/** Defaults with the file's lists in their place. Throws a one-line error on a bad file. */
export function loadRules(file: string): RulesConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    fail(file, e.code === 'ENOENT' ? 'no such file' : e.message.split('\n')[0]);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail(file, 'expected a JSON object');
  const known = new Set(Object.keys(DEFAULT_RULES));
  const rules: RulesConfig = { ...DEFAULT_RULES };
  for (const [key, value] of Object.entries(raw)) {
    switch (key) {
      case 'sensitiveEnv':
      case 'sensitiveFiles':
      case 'dropLocations':
      case 'logFiles':
      case 'networkTools':
        rules[key] = stringList(file, key, value);
        break;
      case 'persistence': {
        if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(file, '"persistence" must be an object');
        const classes: Record<string, string[]> = { ...DEFAULT_RULES.persistence };
        for (const [cls, list] of Object.entries(value)) {
          if (!(PERSISTENCE_CLASSES as readonly string[]).includes(cls)) {
            fail(file, `unknown persistence class "${cls}" (known: ${PERSISTENCE_CLASSES.join(', ')})`);
          }
          classes[cls] = stringList(file, `persistence.${cls}`, list);
        }
        rules.persistence = classes as RulesConfig['persistence'];
        break;
      }
      case 'ports': {
        const ports = stringMap(file, key, value);
        for (const p of Object.keys(ports)) {
          if (!/^\d+$/.test(p) || Number(p) < 1 || Number(p) > 65535) fail(file, `"ports.${p}" is not a port number`);
        }
        rules.ports = ports;
        break;
      }
      case 'sensitiveSockets':
        rules.sensitiveSockets = stringMap(file, key, value);
        break;
      case 'levels': {
        const levels = stringMap(file, key, value);
        for (const [rule, level] of Object.entries(levels)) {
          if (!(LEVELS as readonly string[]).includes(level)) {
            fail(file, `"levels.${rule}" must be one of ${LEVELS.join(', ')}`);
          }
        }
        rules.levels = levels as Record<string, Level>;
        break;
      }
      default:
        fail(file, `unknown key "${key}" (known: ${[...known].join(', ')})`);
    }
  }
  return Object.freeze(rules);
}

/** Compiles a glob: '**' spans path segments, '*' stays within one. */
export function globToRegExp(glob: string, flags = ''): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    if (glob.startsWith('**/', i)) {
      re += '(?:.*/)?';
      i += 2;
    } else if (glob.startsWith('**', i)) {
      re += '.*';
      i += 1;
    } else if (glob[i] === '*') {
      re += '[^/]*';
    } else {
      re += glob[i].replace(/[.+?^${}()|[\]\\]/g, '\\$&');
    }
  }
  return new RegExp(`^${re}$`, flags);
}
