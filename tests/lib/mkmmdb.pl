#!/usr/bin/perl
# mkmmdb.pl OUT NET=CC ...: a small GeoLite2-Country-shaped MaxMind DB for
# the tests (Debian ships none), written with MaxMind::DB::Writer; reserved
# networks are kept so that 127.x and ::1 can be mapped.
use strict;
use warnings;
use MaxMind::DB::Writer::Tree;

my $out = shift or die "usage: mkmmdb.pl OUT NET=CC ...\n";
my $tree = MaxMind::DB::Writer::Tree->new(
	ip_version => 6, record_size => 24, database_type => 'GeoLite2-Country',
	languages => ['en'], description => { en => 'proxymilter test data' },
	remove_reserved_networks => 0,
	map_key_type_callback => sub {
		{ country => 'map', iso_code => 'utf8_string', names => 'map',
		  en => 'utf8_string' }->{ $_[0] }
	},
);
for my $arg (@ARGV) {
	my ($net, $cc) = split /=/, $arg, 2;
	$tree->insert_network($net, { country => { iso_code => $cc, names => { en => $cc } } });
}
open my $fh, '>:raw', $out or die "$out: $!\n";
$tree->write_tree($fh);
close $fh or die "$out: $!\n";
