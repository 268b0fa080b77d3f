module example.com/hatcheck

go 1.19
