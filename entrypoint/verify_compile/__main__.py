from verify_compile.cli import main

raise SystemExit(main())
