module mca.local/bench/proxy/tool

go 1.26
