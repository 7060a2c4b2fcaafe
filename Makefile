# C users' entry points: `make install PREFIX=...` puts libnetcore, netcore.h and netcore.pc in place.
PREFIX ?= /usr/local
# The installed libraries carry no debug info (the build tree keeps line tables for
# developers' backtraces; a panic caught at the C boundary still names its file:line).
STRIP ?= strip
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
MAJOR := $(firstword $(subst ., ,$(VERSION)))

.PHONY: all install uninstall test
# The library only: the C build needs neither the `netcore` program nor its command line.
all:
	cargo build --release --lib

install: all
	install -d $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include
	install -m 0755 target/release/libnetcore.so $(DESTDIR)$(PREFIX)/lib/libnetcore.so.$(VERSION)
	ln -sf libnetcore.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/libnetcore.so.$(MAJOR)
	ln -sf libnetcore.so.$(MAJOR) $(DESTDIR)$(PREFIX)/lib/libnetcore.so
	install -m 0644 target/release/libnetcore.a $(DESTDIR)$(PREFIX)/lib/libnetcore.a
	$(STRIP) --strip-debug $(DESTDIR)$(PREFIX)/lib/libnetcore.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/libnetcore.a
	install -m 0644 include/netcore.h $(DESTDIR)$(PREFIX)/include/netcore.h
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' netcore.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/netcore.pc
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' netcore-static.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/netcore-static.pc

uninstall:
	rm -f $(PREFIX)/lib/libnetcore.so* $(PREFIX)/lib/libnetcore.a $(PREFIX)/include/netcore.h $(PREFIX)/lib/pkgconfig/netcore.pc $(PREFIX)/lib/pkgconfig/netcore-static.pc

test:
	./scripts/test
