{
  'targets': [
    {
      'target_name': 'lifeboat',
      'sources': ['lifeboat.c'],
      # zstd from the sources that the zstd-napi package ships (the same version the JS side uses).
      'dependencies': ['../node_modules/zstd-napi/deps/zstd.gyp:libzstd'],
      'cflags': ['-O3', '-fvisibility=hidden', '-Wall', '-Wno-unused-parameter'],
      'cflags!': ['-O2'],
      'ldflags': ['-Wl,-z,noexecstack', '-lm'],
    },
  ],
}
